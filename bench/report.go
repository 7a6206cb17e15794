package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// The performance targets (docs/product.md), on this machine with 32
// concurrent clients.
const (
	targetP99       = 25 * time.Millisecond
	targetHomeShare = 0.10              // Home's requests/s as a share of /healthz's
	targetRSS       = 150 * 1000 * 1000 // bytes; "MB" as the target says
	// saturatedShare: the machine is saturated when everything on it used at
	// least this share of its cores during a scenario. Then latency is the
	// queue of 32 clients waiting for a core, which says nothing of the
	// page: p99 is reported, not judged.
	saturatedShare = 0.9
)

// targetCPU is the most CPU a request of a page may cost, server and
// Postgres together, in milliseconds: what a page must stay within whatever
// the machine's load, since it is the work itself.
var targetCPU = map[string]float64{"home": 1.5, "devices": 1.5, "subtenants": 1.5, "order": 1.5, "team": 2.5}

type report struct {
	machine  [][2]string
	data     [][2]string
	roleNote string
	opts     options
	results  []result
	peakRSS  int64
	plans    []pagePlans
	costs    map[string]wireCount // statements and round trips of one sample, by scenario
}

// describeMachine is what the numbers depend on.
func describeMachine(ctx context.Context, db *sql.DB) [][2]string {
	cpu := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	ram := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			ram = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	var pg string
	if err := db.QueryRowContext(ctx, `SHOW server_version`).Scan(&pg); err != nil {
		pg = "unknown"
	}
	commit, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	return [][2]string{
		{"CPU", cpu},
		{"cores", fmt.Sprint(runtime.NumCPU())},
		{"RAM", ram},
		{"OS", runtime.GOOS + " " + strings.TrimSpace(string(kernel))},
		{"Go", runtime.Version()},
		{"PostgreSQL", pg},
		{"commit", strings.TrimSpace(string(commit))},
		{"date", time.Now().UTC().Format("2006-01-02 15:04 UTC")},
	}
}

// describeData counts what the server had to work with (through the owner,
// whom row-level security does not limit).
func describeData(ctx context.Context, db *sql.DB, o options) [][2]string {
	count := func(label, query string, args ...any) [2]string {
		var n int64
		if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			return [2]string{label, "unknown (" + err.Error() + ")"}
		}
		return [2]string{label, thousands(n)}
	}
	return [][2]string{
		count("tenants", `SELECT count(*) FROM tenants`),
		count("users", `SELECT count(*) FROM users`),
		count("memberships", `SELECT count(*) FROM memberships`),
		count("devices", `SELECT count(*) FROM devices`),
		count("orders", `SELECT count(*) FROM orders`),
		count("sub-tenants of "+o.platform, `SELECT count(*) FROM tenants WHERE parent_id = (SELECT id FROM tenants WHERE subdomain = $1)`, o.platform),
		count("devices of "+o.fleet, `SELECT count(*) FROM devices WHERE tenant_id = (SELECT id FROM tenants WHERE subdomain = $1)`, o.fleet),
		count("members of "+o.fleet, `SELECT count(*) FROM memberships WHERE tenant_id = (SELECT id FROM tenants WHERE subdomain = $1)`, o.fleet),
		count("companies of "+o.manyUser, `SELECT count(*) FROM memberships WHERE user_id = (SELECT id FROM users WHERE email = $1)`, o.manyUser),
	}
}

// verdict says whether a row meets its targets, and if not, why not.
func (r report) verdict(res result) string {
	if !res.page {
		return "ceiling"
	}
	if res.Count == 0 {
		return "**missed**: no request finished"
	}
	var missed []string
	if res.Errors > 0 {
		missed = append(missed, fmt.Sprintf("%d errors", res.Errors))
	}
	if res.P99 > targetP99 && !saturated(res) {
		missed = append(missed, fmt.Sprintf("p99 > %s", fmtMS(targetP99)))
	}
	if limit, ok := targetCPU[res.name]; ok {
		if ms, known := requestCPU(res); known && ms > limit {
			missed = append(missed, fmt.Sprintf("%.2f ms CPU > %.1f ms", ms, limit))
		}
	}
	if res.name == "home" {
		if share, ok := r.homeShare(); ok && share < targetHomeShare {
			missed = append(missed, fmt.Sprintf("%.0f%% of /healthz < %.0f%%", share*100, targetHomeShare*100))
		}
	}
	if len(missed) == 0 && res.P99 > targetP99 {
		return "p99 not judged: machine saturated"
	}
	if len(missed) == 0 {
		return "met"
	}
	return "**missed**: " + strings.Join(missed, ", ")
}

// saturated tells whether the machine's cores were all busy during the
// scenario (server, Postgres and the load generator together).
func saturated(res result) bool {
	return res.cpu.total >= saturatedShare*float64(runtime.NumCPU())
}

// requestCPU is a request's CPU, server and Postgres together, in
// milliseconds; false when Postgres's could not be measured.
func requestCPU(res result) (float64, bool) {
	server, ok1 := perRequestMS(res.serverCPU, res.Count)
	pg, ok2 := perRequestMS(res.pgCPU, res.Count)
	return server + pg, ok1 && ok2 && res.pgOK
}

// homeShare is Home's throughput as a share of /healthz's.
func (r report) homeShare() (float64, bool) {
	for _, res := range r.results {
		if res.name == "home" {
			return r.healthzShare(res)
		}
	}
	return 0, false
}

// healthzShare is res's throughput as a share of /healthz's in the same run.
func (r report) healthzShare(res result) (float64, bool) {
	for _, h := range r.results {
		if h.name == "healthz" {
			return share(res.RPS(), h.RPS())
		}
	}
	return 0, false
}

// share is part / whole, when both were measured.
func share(part, whole float64) (float64, bool) {
	if part <= 0 || whole <= 0 {
		return 0, false
	}
	return part / whole, true
}

// fmtShare writes a share of /healthz's requests/s, e.g. "4.1% of /healthz".
func fmtShare(s float64, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.1f%% of /healthz", s*100)
}

// perRequestMS is CPU seconds spread over the requests that used them, in
// milliseconds per request.
func perRequestMS(seconds float64, requests int) (float64, bool) {
	if requests <= 0 || seconds < 0 {
		return 0, false
	}
	return seconds * 1000 / float64(requests), true
}

// fmtPerRequest writes a per-request figure with two significant decimals
// below 10 and one above; "–" when not measured.
func fmtPerRequest(v float64, ok bool) string {
	switch {
	case !ok:
		return "–"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// cpuColumns are a row's CPU milliseconds per request: the server's and
// Postgres's (every backend of the database).
func cpuColumns(res result) (server, postgres string) {
	server = fmtPerRequest(perRequestMS(res.serverCPU, res.Count))
	pg, ok := perRequestMS(res.pgCPU, res.Count)
	return server, fmtPerRequest(pg, ok && res.pgOK)
}

// wireColumns are a row's statements and round trips per request, from the
// in-process sample; "–" when it was not taken or failed.
func (r report) wireColumns(res result) (statements, roundTrips string) {
	c, ok := r.costs[res.name]
	if !ok {
		return "–", "–"
	}
	return fmt.Sprint(c.statements), fmt.Sprint(c.roundTrips)
}

func (r report) maxRSS() int64 {
	var m int64
	for _, res := range r.results {
		m = max(m, res.maxRSS)
	}
	return m
}

// table is the results table and the targets under it, in Markdown.
func (r report) table() string {
	var b strings.Builder
	b.WriteString("| scenario | request | req/s | req/s vs /healthz | server CPU ms/req | Postgres CPU ms/req | statements/req | round trips/req " +
		"| p50 | p95 | p99 | max | errors | server RSS | CPU cores: server / load / all | new DB conns | target |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, res := range r.results {
		serverCPU, pgCPU := cpuColumns(res)
		statements, roundTrips := r.wireColumns(res)
		vsHealthz := fmtShare(r.healthzShare(res))
		if res.name == "healthz" {
			vsHealthz = "100%"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n",
			res.name, res.request, thousands(int64(res.RPS()+0.5)), vsHealthz, serverCPU, pgCPU, statements, roundTrips,
			fmtMS(res.P50), fmtMS(res.P95), fmtMS(res.P99), fmtMS(res.Max),
			res.Errors, fmtMB(res.maxRSS), res.cpu, thousands(res.newConns), r.verdict(res))
	}
	b.WriteString("\nTargets:\n\n")
	var costly, slow, queued []string
	for _, res := range r.results {
		if limit, ok := targetCPU[res.name]; ok {
			if ms, known := requestCPU(res); known && ms > limit {
				costly = append(costly, fmt.Sprintf("%s (%.2f ms, limit %.1f ms, %.0f%% over)", res.name, ms, limit, (ms/limit-1)*100))
			}
		}
		switch {
		case !res.page || res.P99 <= targetP99:
		case saturated(res):
			queued = append(queued, fmt.Sprintf("%s (%s, cores %s)", res.name, fmtMS(res.P99), res.cpu))
		default:
			slow = append(slow, fmt.Sprintf("%s (%s)", res.name, fmtMS(res.P99)))
		}
	}
	fmt.Fprintf(&b, "- CPU per request, server and Postgres together, at most 1.5 ms for Home, Devices, Sub-Tenants and Create order and 2.5 ms for Team: %s\n",
		metOr(len(costly) == 0, "missed by "+strings.Join(costly, ", ")))
	fmt.Fprintf(&b, "- p99 ≤ %s on every page where the machine is not saturated: %s\n", fmtMS(targetP99), metOr(len(slow) == 0, "missed by "+strings.Join(slow, ", ")))
	if len(queued) > 0 {
		fmt.Fprintf(&b, "  - not judged, the machine saturated (all %d cores busy: server, Postgres and the load generator, which shares them): %s\n",
			runtime.NumCPU(), strings.Join(queued, ", "))
	}
	if share, ok := r.homeShare(); ok {
		fmt.Fprintf(&b, "- Home ≥ %.0f%% of /healthz requests/s: %.0f%%, %s\n", targetHomeShare*100, share*100, metOr(share >= targetHomeShare, "missed"))
	} else {
		fmt.Fprintf(&b, "- Home ≥ %.0f%% of /healthz requests/s: not measured (run both home and healthz)\n", targetHomeShare*100)
	}
	fmt.Fprintf(&b, "- server resident memory ≤ %s under load: at most %s, %s (peak VmHWM over the whole run, start-up and sign-ins included: %s)\n",
		fmtMB(targetRSS), fmtMB(r.maxRSS()), metOr(r.maxRSS() <= targetRSS, "missed"), fmtMB(r.peakRSS))
	var errs int
	for _, res := range r.results {
		errs += res.Errors
	}
	fmt.Fprintf(&b, "- no errors: %s\n", metOr(errs == 0, fmt.Sprintf("missed, %d in all", errs)))
	return b.String()
}

func metOr(ok bool, otherwise string) string {
	if ok {
		return "met"
	}
	return "**" + otherwise + "**"
}

// Notes written by hand between these markers survive a new run.
const notesBegin, notesEnd = "<!-- notes: kept when bench rewrites this file -->", "<!-- /notes -->"

func (r report) write(path string) error {
	notes := "Why a target is missed, and what would close it.\n"
	if old, err := os.ReadFile(path); err == nil {
		if _, rest, ok := strings.Cut(string(old), notesBegin+"\n"); ok {
			if kept, _, ok := strings.Cut(rest, notesEnd); ok {
				notes = kept
			}
		}
	}
	var b strings.Builder
	b.WriteString("# Load benchmark\n\n")
	b.WriteString("Written by `make bench` (`go run ./bench`); see the README's Benchmarks section for how to read it.\n")
	fmt.Fprintf(&b, "%d concurrent clients per scenario, each repeating its request back to back for %s after a %s warm-up, over loopback; "+
		"load generator, server and PostgreSQL share the machine. The %s.\n\n", r.opts.clients, r.opts.duration, r.opts.warmup, r.roleNote)
	b.WriteString(r.table())
	b.WriteString("\n## Notes\n\n" + notesBegin + "\n" + notes + notesEnd + "\n")
	b.WriteString("\n## Machine\n\n| | |\n|---|---|\n")
	for _, kv := range r.machine {
		fmt.Fprintf(&b, "| %s | %s |\n", kv[0], kv[1])
	}
	b.WriteString("\n## Data\n\n| | |\n|---|---|\n")
	for _, kv := range r.data {
		fmt.Fprintf(&b, "| %s | %s |\n", kv[0], kv[1])
	}
	b.WriteString("\n## EXPLAIN of the hot queries\n\n")
	if len(r.plans) == 0 {
		b.WriteString("Not run (`-explain=false`).\n")
	} else {
		b.WriteString(explainIntro)
		for _, p := range r.plans {
			b.WriteString(p.markdown())
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func fmtMS(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func fmtMB(bytes int64) string { return fmt.Sprintf("%.0f MB", float64(bytes)/1e6) }

// thousands writes 1234567 as 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
