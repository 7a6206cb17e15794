package handlers_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"canopy/internal/metrics"
)

// TestMetricsByRoutePattern: after a few requests, /metrics reports each
// by its route's pattern, never the path asked for, with a histogram of
// durations whose count is the number of requests; made-up paths and
// methods share one label value each.
func TestMetricsByRoutePattern(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	reg := prometheus.NewRegistry()
	if err := a.handlers.RecordMetrics(reg); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	for range 3 {
		wantStatus(t, b.get(base+"/login"), http.StatusOK)
	}
	b.get(base + "/go/acme")
	b.get(base + "/go/globex")
	wantStatus(t, b.get(base+"/no/such/page/12345"), http.StatusNotFound)
	wantStatus(t, b.get(base+"/another-made-up-path"), http.StatusNotFound)
	odd, _ := http.NewRequest("BREW", base+"/login", nil)
	b.do(odd)

	scrape := httptest.NewRecorder()
	metrics.Handler(reg, slog.New(slog.NewTextHandler(io.Discard, nil))).ServeHTTP(scrape, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if scrape.Code != http.StatusOK {
		t.Fatalf("scrape: %d\n%s", scrape.Code, scrape.Body)
	}
	body := scrape.Body.String()
	for _, want := range []string{
		`canopy_http_request_duration_seconds_count{code="200",method="GET",route="/login"} 3`,
		`canopy_http_request_duration_seconds_bucket{code="200",method="GET",route="/login",le="+Inf"} 3`,
		`canopy_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 2`,
		`route="/go/:subdomain"`,
		`method="other"`,
		"# TYPE canopy_http_request_duration_seconds histogram",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	if regexp.MustCompile(`route="[^"]*(acme|globex|12345|made-up)`).MatchString(body) {
		t.Errorf("a raw path became a label:\n%s", body)
	}
}
