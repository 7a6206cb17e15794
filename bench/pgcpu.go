package main

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Postgres runs one process per connection (a backend), so the CPU the
// database spent on a scenario is the sum, over the backends of the
// benchmark's database, of the CPU each used during the measured window.
// The backends are the pids pg_stat_activity lists for the database (the
// server's pools, the benchmark's own monitoring connection, autovacuum
// workers), read from /proc: Postgres must run on this machine.
//
// Backends come and go. One that starts during the window counts whole (it
// had used nothing before). One that exits takes its counters with it, so
// the backends are sampled every pgSampleEvery and an exited one counts up to
// its last sample: at most that much of its CPU is lost. A process is named
// by its pid and start time, so a reused pid is a new backend.
const pgSampleEvery = 250 * time.Millisecond

type backendID struct {
	pid   int
	start uint64
}

// pgCPU measures the database's backends over one window.
type pgCPU struct {
	db *sql.DB // any connection to the benchmark's database

	mu    sync.Mutex
	first map[backendID]float64 // CPU seconds at the window's start
	last  map[backendID]float64 // the latest sample of every backend seen since
	ok    bool                  // the backends' /proc entries could be read
}

// backends reads the CPU so far of every backend of the database. ok is
// false when there are none to read: Postgres on another machine, or /proc
// hidden from this user.
func (p *pgCPU) backends(ctx context.Context) (cpu map[backendID]float64, ok bool) {
	rows, err := p.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return nil, false
	}
	defer rows.Close()
	cpu = map[backendID]float64{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return nil, false
		}
		st, err := readProcStat(pid)
		if err != nil || st.comm != "postgres" {
			continue // exited meanwhile, or not a local Postgres process
		}
		cpu[backendID{pid, st.start}] = st.cpu
	}
	return cpu, rows.Err() == nil && len(cpu) > 0
}

// begin starts a window and samples until ctx ends.
func (p *pgCPU) begin(ctx context.Context) {
	cpu, ok := p.backends(ctx)
	p.mu.Lock()
	p.first, p.last, p.ok = cpu, map[backendID]float64{}, ok
	p.mu.Unlock()
	p.sample(cpu)
	go func() {
		t := time.NewTicker(pgSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if cpu, ok := p.backends(ctx); ok {
				p.sample(cpu)
			}
		}
	}()
}

func (p *pgCPU) sample(cpu map[backendID]float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, s := range cpu {
		p.last[id] = s
	}
}

// end samples once more and returns the CPU seconds the backends used since
// begin; ok is false when they could not be read.
func (p *pgCPU) end(ctx context.Context) (seconds float64, ok bool) {
	if cpu, ok := p.backends(ctx); ok {
		p.sample(cpu)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return cpuSince(p.first, p.last), p.ok
}

// cpuSince is the CPU the backends used between two samples: each one's
// growth, a backend absent from first counting from zero.
func cpuSince(first, last map[backendID]float64) float64 {
	var sum float64
	for id, s := range last {
		sum += max(0, s-first[id])
	}
	return sum
}
