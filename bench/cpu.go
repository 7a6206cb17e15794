package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc CPU times; 100 on every
// common architecture (reading it needs sysconf, which needs cgo).
const clockTicks = 100

// cpuSnapshot is CPU time used so far, in seconds: by the server, by this
// load generator, and by the whole machine (PostgreSQL included).
type cpuSnapshot struct {
	at                   time.Time
	server, bench, total float64
}

func takeCPU(pid int) cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	if st, err := readProcStat(pid); err == nil {
		s.server = st.cpu
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.bench = tv(ru.Utime) + tv(ru.Stime)
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n") // cpu user nice system idle iowait irq softirq steal ...
		for i, field := range strings.Fields(line)[1:] {
			if i == 3 || i == 4 { // idle and iowait are not busy
				continue
			}
			if i >= 8 { // guest times are already counted in user
				break
			}
			v, _ := strconv.ParseFloat(field, 64)
			s.total += v / clockTicks
		}
	}
	return s
}

// procStat is what the benchmark reads from a /proc/<pid>/stat line.
type procStat struct {
	comm  string  // the command name, e.g. "postgres"
	cpu   float64 // utime + stime: CPU seconds used so far, every thread included
	start uint64  // starttime, in clock ticks after boot: with the pid, names one process
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads a /proc/<pid>/stat line (proc(5)): "pid (comm) state
// ppid ...", utime and stime being its 14th and 15th fields and starttime
// its 22nd. The command name may itself hold spaces and parentheses, so the
// fields are counted from the last ")".
func parseProcStat(line string) (procStat, error) {
	open, closing := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("not a /proc stat line: %.40q", line)
	}
	f := strings.Fields(line[closing+1:]) // f[0] is field 3, the state
	const utime, stime, starttime = 14 - 3, 15 - 3, 22 - 3
	if len(f) <= starttime {
		return procStat{}, fmt.Errorf("/proc stat line with %d fields", len(f)+2)
	}
	u, err1 := strconv.ParseUint(f[utime], 10, 64)
	k, err2 := strconv.ParseUint(f[stime], 10, 64)
	start, err3 := strconv.ParseUint(f[starttime], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("/proc stat line: %w", err)
	}
	return procStat{comm: line[open+1 : closing], cpu: float64(u+k) / clockTicks, start: start}, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// cpuUse is how many cores each used on average between two snapshots.
type cpuUse struct{ server, bench, total float64 }

func cpuBetween(a, b cpuSnapshot) cpuUse {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuUse{}
	}
	return cpuUse{(b.server - a.server) / wall, (b.bench - a.bench) / wall, (b.total - a.total) / wall}
}

func (u cpuUse) String() string {
	return fmt.Sprintf("%.1f / %.1f / %.1f", u.server, u.bench, u.total)
}
