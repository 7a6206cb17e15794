// Package metrics gathers what Canopy reports to Prometheus beyond the
// handlers' own HTTP metrics — the Go runtime and the process, the database
// pools, and the background queues — into a private registry, and serves
// it on a listener of its own, apart from the site.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"canopy/models"
)

// QueueReader reads where the background queues stand (models.Store).
type QueueReader interface {
	QueueStatsAt(ctx context.Context, now time.Time) (models.Queues, error)
}

// NewRegistry is a registry of its own (never the global default, which any
// imported package may write into) with the runtime, the process, the
// store's pools and its queues.
func NewRegistry(store *models.Store) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	main, detached, err := store.SQLPools()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(main, "main"),
		NewQueueCollector(store, time.Now),
	}
	if detached != nil {
		cs = append(cs, collectors.NewDBStatsCollector(detached, "detached"))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return reg, nil
}

// queueScrapeTimeout bounds the queue's reads at a scrape: a slow database
// must not hold the scrape (or a connection) for long.
const queueScrapeTimeout = 2 * time.Second

// queueCollector reads the queues when Prometheus scrapes, so the figures
// are the database's at that moment, whichever instance answers.
type queueCollector struct {
	store      QueueReader
	now        func() time.Time
	due, age   *prometheus.Desc
	scrapeFail *prometheus.Desc
}

// NewQueueCollector reports the mail outbox's and the webhook deliveries'
// due jobs and the age of the oldest, read at each scrape.
func NewQueueCollector(store QueueReader, now func() time.Time) prometheus.Collector {
	return &queueCollector{
		store: store,
		now:   now,
		due: prometheus.NewDesc("canopy_queue_due_jobs",
			"Jobs whose time has come and that are not done yet (in flight or waiting), by queue.", []string{"queue"}, nil),
		age: prometheus.NewDesc("canopy_queue_oldest_due_job_age_seconds",
			"How long the longest-waiting due job has been due, by queue; 0 when none is.", []string{"queue"}, nil),
		scrapeFail: prometheus.NewDesc("canopy_queue_scrape_failed",
			"1 when the queues could not be read at this scrape (the other canopy_queue_ series are then absent).", nil, nil),
	}
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.due
	ch <- q.age
	ch <- q.scrapeFail
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueScrapeTimeout)
	defer cancel()
	queues, err := q.store.QueueStatsAt(ctx, q.now())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(q.scrapeFail, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(q.scrapeFail, prometheus.GaugeValue, 0)
	for name, s := range map[string]models.QueueStats{"outbox": queues.Outbox, "webhooks": queues.Webhooks} {
		ch <- prometheus.MustNewConstMetric(q.due, prometheus.GaugeValue, float64(s.Due), name)
		ch <- prometheus.MustNewConstMetric(q.age, prometheus.GaugeValue, s.OldestDueAge.Seconds(), name)
	}
}

// Handler serves reg's metrics in Prometheus's text format. A collector
// that fails leaves the others served.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg, // promhttp's own counts of scrapes and their errors
	})
}

// Serve answers GET /metrics on addr until stop is called. It listens
// before returning, so a taken address fails the start.
func Serve(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg, log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics served", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
