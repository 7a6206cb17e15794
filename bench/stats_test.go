package main

import (
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile is exactly p ms.
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, ms(i))
	}
	for _, p := range []float64{1, 50, 95, 99, 100} {
		if got, want := percentile(sorted, p), ms(int(p)); got != want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", p, got, want)
		}
	}
	cases := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 99, 0},
		{[]time.Duration{ms(7)}, 50, ms(7)},
		{[]time.Duration{ms(7)}, 99, ms(7)},
		{[]time.Duration{ms(1), ms(2), ms(3), ms(4)}, 50, ms(2)}, // rank 2 of 4
		{[]time.Duration{ms(1), ms(2), ms(3), ms(4)}, 51, ms(3)}, // rank ceil(2.04) = 3
		{[]time.Duration{ms(1), ms(2), ms(3), ms(4)}, 0, ms(1)},  // never below the first
	}
	for _, c := range cases {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.sorted, c.p, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	// 200 samples in random order: 198 of 1 ms, one of 50 ms, one of 90 ms.
	var lat []time.Duration
	for i := 0; i < 198; i++ {
		lat = append(lat, ms(1))
	}
	lat = append([]time.Duration{ms(90)}, lat...)
	lat = append(lat, ms(50))
	// 190 of them finished inside the 2 s window, 10 while the last requests drained.
	s := summarize(lat, 190, 3, 2*time.Second)
	if s.Count != 200 || s.Errors != 3 {
		t.Fatalf("count %d errors %d, want 200 and 3", s.Count, s.Errors)
	}
	if s.RPS() != 95 {
		t.Errorf("RPS = %v, want 95", s.RPS())
	}
	// p99 is rank 198: still 1 ms; the two slow samples are the top 1%.
	if s.P50 != ms(1) || s.P95 != ms(1) || s.P99 != ms(1) || s.Max != ms(90) {
		t.Errorf("p50 %v p95 %v p99 %v max %v, want 1, 1, 1, 90 ms", s.P50, s.P95, s.P99, s.Max)
	}
	// One more slow sample moves p99 (rank ceil(199.98) = 200 of 202, sorted ..., 50, 60, 90).
	s = summarize(append(lat, ms(60), ms(1)), 202, 0, time.Second)
	if s.P99 != ms(50) {
		t.Errorf("p99 of 202 samples = %v, want 50 ms", s.P99)
	}
	if empty := summarize(nil, 0, 0, 0); empty.RPS() != 0 || empty.P99 != 0 {
		t.Errorf("empty summary = %+v", empty)
	}
}
