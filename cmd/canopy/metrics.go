package main

import (
	"log/slog"

	"canopy/handlers"
	"canopy/internal/config"
	"canopy/internal/metrics"
	"canopy/models"
)

// startMetrics serves Prometheus metrics on CANOPY_METRICS_ADDR, when set,
// until the returned stop is called: the handlers' HTTP metrics, the
// database pools, the background queues, the runtime and the process.
func startMetrics(cfg *config.Config, store *models.Store, h *handlers.Handlers, log *slog.Logger) (stop func(), err error) {
	if cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	reg, err := metrics.NewRegistry(store)
	if err != nil {
		return nil, err
	}
	if err := h.RecordMetrics(reg); err != nil {
		return nil, err
	}
	return metrics.Serve(cfg.MetricsAddr, reg, log)
}
