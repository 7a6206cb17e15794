package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPerRequestMS(t *testing.T) {
	cases := []struct {
		seconds  float64
		requests int
		want     float64
		ok       bool
	}{
		{1.5, 1000, 1.5, true}, // 1.5 s over 1,000 requests: 1.5 ms each
		{0.25, 1000, 0.25, true},
		{0, 10, 0, true},
		{1, 0, 0, false}, // no request finished
		{-1, 10, 0, false},
	}
	for _, c := range cases {
		got, ok := perRequestMS(c.seconds, c.requests)
		if ok != c.ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("perRequestMS(%v, %d) = %v, %v; want %v, %v", c.seconds, c.requests, got, ok, c.want, c.ok)
		}
	}
	for v, want := range map[float64]string{0.4234: "0.42", 3.456: "3.46", 12.34: "12.3"} {
		if got := fmtPerRequest(v, true); got != want {
			t.Errorf("fmtPerRequest(%v) = %q, want %q", v, got, want)
		}
	}
	if got := fmtPerRequest(1, false); got != "–" {
		t.Errorf("fmtPerRequest not measured = %q", got)
	}
}

func TestShareOfHealthz(t *testing.T) {
	if got := fmtShare(share(773, 18854)); got != "4.1% of /healthz" {
		t.Errorf("773 of 18,854 req/s = %q", got)
	}
	if got := fmtShare(share(773, 0)); got != "–" {
		t.Errorf("without /healthz = %q", got)
	}
	if got := fmtShare(share(0, 100)); got != "–" {
		t.Errorf("no requests = %q", got)
	}
}

// row is a scenario that completed n requests in a 10 s window.
func row(name string, n int, serverCPU, pgCPU float64) result {
	return result{
		scenario:  scenario{name: name, request: "GET " + name, page: name != "healthz"},
		summary:   summary{Count: n, Completed: n, Elapsed: 10 * time.Second},
		serverCPU: serverCPU, pgCPU: pgCPU, pgOK: true,
	}
}

func TestTableColumns(t *testing.T) {
	r := report{
		results: []result{row("healthz", 200000, 10, 5), row("home", 8000, 6, 12), row("team", 3000, 3, 15)},
		costs:   map[string]wireCount{"healthz": {1, 1}, "home": {9, 8}},
	}
	r.results[2].pgOK = false // Postgres not on this machine
	table := r.table()
	for _, want := range []string{
		"| req/s vs /healthz | server CPU ms/req | Postgres CPU ms/req | statements/req | round trips/req |",
		"| healthz | GET healthz | 20,000 | 100% | 0.05 | 0.03 | 1 | 1 |",
		"| home | GET home | 800 | 4.0% of /healthz | 0.75 | 1.50 | 9 | 8 |",
		"| team | GET team | 300 | 1.5% of /healthz | 1.00 | – | – | – |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	header, rule, _ := strings.Cut(table, "\n")
	rule, _, _ = strings.Cut(rule, "\n")
	if h, d := strings.Count(header, "|"), strings.Count(rule, "|"); h != d {
		t.Errorf("header has %d cells, alignment row %d", h-1, d-1)
	}
}

func TestErrorLinesQuotesOnlyErrorsShortened(t *testing.T) {
	log := "time=1 level=INFO msg=request status=200\n" +
		"time=2 level=ERROR msg=panic value=\"nil pointer\" stack=\"" + strings.Repeat("x", 1000) + "\"\n" +
		"time=3 level=ERROR msg=request status=500\n"
	got := errorLines(log)
	first, second, ok := strings.Cut(got, " | ")
	if !ok || !strings.HasPrefix(first, "time=2 level=ERROR msg=panic") || len([]rune(first)) != 401 || second != "time=3 level=ERROR msg=request status=500" {
		t.Errorf("errorLines = %q", got)
	}
	if errorLines("time=1 level=INFO msg=request\n") != "" {
		t.Error("an INFO record was quoted")
	}
}
