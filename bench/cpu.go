package main

import (
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
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the parenthesised command name; utime and stime are
		// the 14th and 15th fields of the whole line.
		if _, rest, ok := strings.Cut(string(b), ") "); ok {
			f := strings.Fields(rest)
			if len(f) > 12 {
				u, _ := strconv.ParseFloat(f[11], 64)
				k, _ := strconv.ParseFloat(f[12], 64)
				s.server = (u + k) / clockTicks
			}
		}
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
