package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// health answers monitors: 200 when the database answers, 503 when not.
// A load balancer should ask ready instead: a database blip would make
// every instance fail this check at once and leave the balancer nothing.
func (h *Handlers) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	c.Response().Header().Set("Cache-Control", "no-store")
	if err := h.store.Ping(ctx); err != nil {
		h.log.Error("health check: database unreachable", "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "database": string(h.store.Dialect())})
}

// ready answers load balancers: 200 while this process takes requests,
// 503 from the moment it was told to stop (StartDraining), so the balancer
// sends new requests elsewhere before the process stops listening. It
// touches no database, which every instance shares.
func (h *Handlers) ready(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if h.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "draining"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// StartDraining makes /readyz answer 503 from now on; every other route
// keeps serving. serve calls it when SIGTERM arrives.
func (h *Handlers) StartDraining() { h.draining.Store(true) }
