package main

import (
	"math"
	"slices"
	"time"
)

// summary is what one scenario measured.
type summary struct {
	Count     int           // samples that finished after the warm-up: the percentiles' population
	Completed int           // of those, the ones that finished inside the measured window
	Errors    int           // samples with a wrong status or a transport error
	Elapsed   time.Duration // the measured window
	P50       time.Duration
	P95       time.Duration
	P99       time.Duration
	Max       time.Duration
}

// RPS is samples finished per second of the measured window.
func (s summary) RPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Completed) / s.Elapsed.Seconds()
}

// summarize turns the latencies of every sample (errors included, so a fast
// failure cannot hide) into a summary; completed of them finished inside
// the elapsed window. It sorts latencies in place.
func summarize(latencies []time.Duration, completed, errors int, elapsed time.Duration) summary {
	slices.Sort(latencies)
	s := summary{Count: len(latencies), Completed: completed, Errors: errors, Elapsed: elapsed}
	if len(latencies) > 0 {
		s.P50 = percentile(latencies, 50)
		s.P95 = percentile(latencies, 95)
		s.P99 = percentile(latencies, 99)
		s.Max = latencies[len(latencies)-1]
	}
	return s
}

// percentile is the nearest-rank percentile of sorted latencies: the smallest
// sample that p% of all samples do not exceed. No interpolation, so the
// answer is always a latency that really happened.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// p*n/100 rather than p/100*n: 95*100/100 is exactly 95 in floating point.
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}
