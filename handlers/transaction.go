package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"

	"github.com/labstack/echo/v4"

	"canopy/models"
)

// inTransaction runs each request in one database transaction (on Postgres;
// models.Store.Request) so that the row-level security scope set for it
// holds for all of its queries and for nothing else. The response is held
// back until the transaction has committed: a page must never announce a
// change that did not land. Client errors (a form to correct, a 404) are
// rendered inside the transaction, so their pages see what the request saw;
// a server error rolls everything back, and so does a failed commit, whose
// page forgets the session's changes too.
//
// When Postgres gives the transaction up so that another made at the same
// moment can go on (a deadlock, a serialization failure: models.ErrTryAgain),
// nothing of it remains, and the request runs once more from the start, as
// it arrived; a second failure is a page asking to try again, never a 500.
func (h *Handlers) inTransaction(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.store.Dialect() != models.Postgres {
			return next(c)
		}
		// The body arrives before the transaction begins: a client sending
		// it slowly must not hold one of the pool's connections meanwhile.
		body, err := readBody(c.Request())
		if err != nil {
			return err
		}
		err = h.runInTransaction(c, next)
		if errors.Is(err, models.ErrTryAgain) {
			h.logFor(c).Info("request retried", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			c.Set(stateKey, nil) // what the first run learned goes with it
			c.Request().Body = io.NopCloser(bytes.NewReader(body))
			err = h.runInTransaction(c, next)
		}
		return err
	}
}

// runInTransaction runs the rest of the request in one transaction, holding
// its response until the transaction commits (see inTransaction).
func (h *Handlers) runInTransaction(c echo.Context, next echo.HandlerFunc) error {
	res := c.Response()
	headers := res.Header().Clone()
	held := &heldResponse{ResponseWriter: res.Writer}
	res.Writer = held
	released := false
	defer func() {
		res.Writer = held.ResponseWriter
		if !released {
			// Nothing of the held page may reach the client, cookies
			// included; the error handler (or, after a panic, the
			// recovery middleware) answers instead.
			clear(res.Header())
			maps.Copy(res.Header(), headers)
			res.Committed, res.Status, res.Size = false, 0, 0
			h.forgetSessionChanges(c)
		}
	}()

	req := c.Request()
	err := h.store.Request(req.Context(), func(ctx context.Context) error {
		c.SetRequest(req.WithContext(ctx))
		if err := next(c); err != nil {
			if statusOf(err) >= http.StatusInternalServerError {
				return err
			}
			c.Error(err)
		}
		if res.Status >= http.StatusInternalServerError {
			return errServerError
		}
		return nil
	})
	c.SetRequest(req)
	if err != nil {
		return err
	}
	released = true
	return held.release()
}

// errServerError rolls back a request whose handler answered 5xx itself.
var errServerError = errors.New("the request ended in a server error")

// readBody reads the request's body into memory (BodyLimit bounds it) and
// returns it, to be read again if the request runs twice.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, unreadableBody(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// unreadableBody answers a body that could not be read: the client's doing
// (cut short, or too slow for the server's ReadTimeout), so a 400 — and
// without the network error inside, which must not pass for a lost
// database (models.IsDatabaseUnavailable). BodyLimit's 413 stays itself.
func unreadableBody(err error) error {
	var tooLarge *echo.HTTPError
	if errors.As(err, &tooLarge) {
		return tooLarge
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The request's body could not be read.")
}

// heldResponse keeps a response in memory until release.
type heldResponse struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *heldResponse) WriteHeader(status int) { r.status = status }

func (r *heldResponse) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// Flush is a no-op until release: a flushed byte would be a promise.
func (r *heldResponse) Flush() {}

func (r *heldResponse) release() error {
	if r.status == 0 {
		return nil
	}
	r.ResponseWriter.WriteHeader(r.status)
	_, err := r.ResponseWriter.Write(r.body.Bytes())
	return err
}
