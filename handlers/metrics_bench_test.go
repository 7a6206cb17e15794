package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkLogRequests measures what the outermost middleware costs a
// request — its id, its log line, and (on) its metrics — around a handler
// that does nothing, so the difference between the two is the metrics'.
func BenchmarkLogRequests(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "metrics off"
		if withMetrics {
			name = "metrics on"
		}
		b.Run(name, func(b *testing.B) {
			e := echo.New()
			h := &Handlers{log: slog.New(slog.NewTextHandler(io.Discard, nil)), requestIDs: newRequestIDs(), echo: e}
			e.Use(h.logRequests)
			e.GET("/devices/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
			if withMetrics {
				if err := h.RecordMetrics(prometheus.NewRegistry()); err != nil {
					b.Fatal(err)
				}
			}
			req := httptest.NewRequest(http.MethodGet, "/devices/42", nil)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				e.ServeHTTP(w, req)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware rather than a recorder.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
