package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// unmatchedRoute is the route label of every request no route matched, so
// that made-up paths cannot grow the metrics without bound.
const unmatchedRoute = "unmatched"

// httpMetrics records each request's duration by method, route pattern and
// status. A histogram counts what it observes, so its _count series is the
// request count: one observation per request is all the cost.
type httpMetrics struct {
	duration *prometheus.HistogramVec
	routes   map[string]bool // the routes' path patterns ("/devices/:id")
}

// httpDurationBuckets reach down to a millisecond: most pages take a few.
var httpDurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// RecordMetrics makes the handlers record HTTP metrics into reg. Call it
// before serving; without it nothing is recorded.
func (h *Handlers) RecordMetrics(reg prometheus.Registerer) error {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "canopy_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method, route pattern and status code; its _count is the number of requests.",
		Buckets: httpDurationBuckets,
	}, []string{"method", "route", "code"})
	if err := reg.Register(duration); err != nil {
		return err
	}
	routes := map[string]bool{}
	for _, r := range h.echo.Routes() {
		if r.Method != echo.RouteNotFound {
			routes[r.Path] = true
		}
	}
	h.metrics = &httpMetrics{duration: duration, routes: routes}
	return nil
}

// observe records one request. Every label is a string that exists
// already (the router's pattern, a constant), so it allocates nothing of
// its own.
func (m *httpMetrics) observe(c echo.Context, status int, took time.Duration) {
	route := c.Path()
	if !m.routes[route] {
		route = unmatchedRoute
	}
	m.duration.WithLabelValues(methodLabel(c.Request().Method), route, statusLabel(status)).Observe(took.Seconds())
}

// methodLabel is the method, or "other" for one no route takes, which a
// client could otherwise make up without end.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// statusLabels are the status codes as text, made once.
var statusLabels = func() (labels [600]string) {
	for code := range labels {
		labels[code] = strconv.Itoa(code)
	}
	return labels
}()

func statusLabel(status int) string {
	if status < 0 || status >= len(statusLabels) {
		return strconv.Itoa(status)
	}
	return statusLabels[status]
}
