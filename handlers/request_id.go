package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/labstack/echo/v4"
)

// requestIDHeader carries a request's id: from a load balancer that made
// one, and back to the client on every answer.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLength bounds an id taken from a request.
const maxRequestIDLength = 64

// requestIDs makes the id of each request this process serves: a random
// prefix drawn at start-up, so instances behind one load balancer never
// collide, then a counter. Making one costs an atomic add and one short
// string, not a read of the system's random source.
type requestIDs struct {
	prefix string
	next   atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand's documented promise)
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

// make is a new id, e.g. "3f9a1c0b7e21-1k3".
func (ids *requestIDs) make() string {
	var buf [32]byte
	out := append(buf[:0], ids.prefix...)
	return string(strconv.AppendUint(out, ids.next.Add(1), 36))
}

// assignRequestID gives the request its id — the incoming X-Request-Id
// when it is one we can safely log and show (saneRequestID), else a new
// one — and returns it in the response's header, which is also where the
// rest of the request reads it (requestID): nothing else to carry.
func (h *Handlers) assignRequestID(c echo.Context) string {
	id := c.Request().Header.Get(requestIDHeader)
	if !saneRequestID(id) {
		id = h.requestIDs.make()
	}
	c.Response().Header()[requestIDHeader] = []string{id}
	return id
}

// saneRequestID accepts an id of 1 to 64 letters, digits, dots, dashes and
// underscores: nothing that could forge a log line or markup.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// requestID is the id assignRequestID gave the request.
func requestID(c echo.Context) string {
	if ids := c.Response().Header()[requestIDHeader]; len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// logFor is the logger for lines about the request: each carries its id,
// as the request's log line does, so a person's "Reference" finds them.
func (h *Handlers) logFor(c echo.Context) *slog.Logger {
	return h.log.With(slog.String("request_id", requestID(c)))
}
