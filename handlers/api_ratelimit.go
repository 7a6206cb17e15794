package handlers

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
)

// apiCallTakenKey keeps, on the request, the call limitAPIRate counted.
const apiCallTakenKey = "canopy.apiCallTaken"

// limitAPIRate spends one call of the key's allowance (a token bucket in
// the database, shared by every instance: models.Store.TakeAPICall) and
// says where it stands in the RateLimit-* headers of every answer; past
// the limit, 429 with Retry-After.
func (h *Handlers) limitAPIRate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// A request run again after a conflict (inTransaction's retry) is
		// still one call: it keeps the decision its first run took.
		d, taken := c.Get(apiCallTakenKey).(models.APICallDecision)
		if !taken {
			key := stateOf(c).apiKey
			var err error
			if d, err = h.store.TakeAPICall(c.Request().Context(), h.apiLimit, key.TenantID, key.ID, h.now()); err != nil {
				return err
			}
			c.Set(apiCallTakenKey, d)
		}
		hd := c.Response().Header()
		hd.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		hd.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		hd.Set("RateLimit-Reset", strconv.Itoa(seconds(d.Reset)))
		if !d.Allowed {
			hd.Set("Retry-After", strconv.Itoa(max(1, seconds(d.RetryAfter))))
			return &apiError{status: http.StatusTooManyRequests, code: "rate_limited",
				message: fmt.Sprintf("Too many requests with this API key: at most %d per %s. Retry after the time Retry-After gives.", d.Limit, d.Period)}
		}
		return next(c)
	}
}

// seconds rounds d up to whole seconds, as the headers give it.
func seconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
