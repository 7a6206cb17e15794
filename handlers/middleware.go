package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/internal/config"
)

// logRequests gives each request its id, writes one structured line per
// request, and records its duration in the metrics when they are on.
func (h *Handlers) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := h.assignRequestID(c)
		err := next(c)
		if err != nil {
			c.Error(err) // render now, so the logged status is the one sent
		}
		status := c.Response().Status
		took := time.Since(start)
		if h.metrics != nil {
			h.metrics.observe(c, status, took)
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if strings.HasPrefix(c.Request().URL.Path, "/static/") || c.Request().URL.Path == "/healthz" || c.Request().URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		h.log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("method", c.Request().Method),
			slog.String("host", c.Request().Host),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", status),
			slog.Duration("took", took),
			slog.String("ip", c.RealIP()),
			slog.String("request_id", id),
		)
		return nil
	}
}

// recoverPanics turns a panic into a logged 500 page instead of a dropped connection.
func (h *Handlers) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(r) // net/http's way to abort a response: let it through
				}
				h.logFor(c).Error("panic", "value", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// securityHeaders keeps pages out of frames, scripts to our own files and
// referrers to our own origin.
func (h *Handlers) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	// form-action also holds for where a form's POST redirects: sign-in goes
	// on to a company's subdomain, and signing out on a company's address
	// goes on to the base domain's sign-in page.
	base := h.cfg.BaseURL.Scheme + "://" + h.cfg.BaseURL.Host
	tenants := h.cfg.BaseURL.Scheme + "://*." + h.cfg.BaseURL.Host
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' " + base + " " + tenants
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if h.cfg.Secure() {
			hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

// ipExtractor decides whose address a request comes from. By default it is
// the TCP peer, so a client cannot dodge the sign-in limit with a made-up
// X-Forwarded-For; behind a proxy, only the configured networks are believed.
func ipExtractor(cfg *config.Config) echo.IPExtractor {
	if len(cfg.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range cfg.TrustedProxies {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
