package main

import (
	"math"
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A real line's shape: utime 63 and stime 704 ticks (fields 14 and 15),
	// starttime 3510 (field 22).
	const line = "2216 (postgres) S 1 2216 2216 0 -1 4194304 222723 25989516 0 158 63 704 42646 64674 20 0 1 0 3510 222543872 7605 18446744073709551615\n"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "postgres" || math.Abs(st.cpu-7.67) > 1e-9 || st.start != 3510 {
		t.Errorf("parseProcStat = %+v, want postgres, 7.67 s, start 3510", st)
	}

	// A command name may hold spaces and ") ": fields count from the last ")".
	tricky := "42 (a) b (c) S 1 2 3 4 5 6 7 8 9 10 100 50 0 0 20 0 1 0 999 0 0\n"
	st, err = parseProcStat(tricky)
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "a) b (c" || math.Abs(st.cpu-1.5) > 1e-9 || st.start != 999 {
		t.Errorf("parseProcStat(tricky) = %+v, want comm %q, 1.5 s, start 999", st, "a) b (c")
	}

	for _, bad := range []string{"", "no parentheses here", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 u s 0 0 20 0 1 0 9"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
}

func TestReadProcStatOfThisProcess(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if st.comm == "" || st.start == 0 || st.cpu < 0 {
		t.Errorf("readProcStat(self) = %+v", st)
	}
}

func TestCPUSinceCountsEachBackendOnce(t *testing.T) {
	a, b, c, reused := backendID{10, 1}, backendID{11, 1}, backendID{12, 5}, backendID{10, 7}
	first := map[backendID]float64{a: 2.0, b: 1.0}
	last := map[backendID]float64{
		a:      2.5, // ran through the window: +0.5
		b:      1.0, // exited right away, last sampled unchanged: +0
		c:      0.3, // started during the window: all of it
		reused: 0.2, // pid 10 again, a new process: all of it
	}
	if got := cpuSince(first, last); math.Abs(got-1.0) > 1e-9 {
		t.Errorf("cpuSince = %v, want 1.0", got)
	}
	if got := cpuSince(first, map[backendID]float64{}); got != 0 {
		t.Errorf("cpuSince with no samples = %v, want 0", got)
	}
}
