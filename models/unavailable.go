package models

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsDatabaseUnavailable tells whether err means the database could not be
// reached or dropped the connection — it is restarting, failing over, or
// the network to it is down — rather than refusing what was asked. Such a
// request may succeed as it is a moment later, so it is answered 503 with
// Retry-After, never as a bug of ours (500).
//
// Counted: PostgreSQL's connection exceptions (SQLSTATE class 08) and its
// shutdown codes (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
// cannot_connect_now: starting up or in recovery); any failure to connect
// (pgconn.ConnectError, a dial refused or timed out included); a
// connection found closed or broken (database/sql's ErrBadConn,
// pgconn.ErrConnClosed, a network error, a reset or broken pipe); and
// io.ErrUnexpectedEOF, which pgx returns bare when the server closes the
// socket under a query (a body cut short also reads so, but the handlers
// answer that as a 400 before any error reaches here). A plain io.EOF is
// not counted. Other server errors, such as a failed password (class 28),
// are configuration problems, not a passing outage.
func IsDatabaseUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	var netErr *net.OpError
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}
