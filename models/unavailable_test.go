package models_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx"

	"canopy/models"
)

// fakePostgres is a server on loopback that speaks just enough of
// PostgreSQL's protocol to fail the way a real one does: at the start-up
// (startupError), or at the first query (onQuery). The errors the tests
// classify are the ones pgx really returns.
type fakePostgres struct {
	startupError *pgproto3.ErrorResponse
	onQuery      func(conn *net.TCPConn, backend *pgproto3.Backend)
	silent       bool // accept and never answer
	hangUp       bool // close the connection once the start-up message is in
}

func (f fakePostgres) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(conn.(*net.TCPConn))
		}
	}()
	return "postgres://canopy@" + ln.Addr().String() + "/canopy?sslmode=disable&connect_timeout=5"
}

func (f fakePostgres) serve(conn *net.TCPConn) {
	defer conn.Close()
	if f.silent {
		_, _ = io.Copy(io.Discard, conn)
		return
	}
	backend := pgproto3.NewBackend(conn, conn)
	if _, err := backend.ReceiveStartupMessage(); err != nil || f.hangUp {
		return
	}
	if f.startupError != nil {
		backend.Send(f.startupError)
		_ = backend.Flush()
		return
	}
	backend.Send(&pgproto3.AuthenticationOk{})
	backend.Send(&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "on"})
	backend.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"})
	backend.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if backend.Flush() != nil {
		return
	}
	if _, err := backend.Receive(); err != nil {
		return
	}
	f.onQuery(conn, backend)
}

// queryError is what a query on a connection to f fails with.
func queryError(t *testing.T, f fakePostgres) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, f.start(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SELECT 1").ReadAll()
	if err == nil {
		t.Fatal("the query succeeded")
	}
	return err
}

// sqlQueryError is what a query through database/sql and pgx's driver, as
// the server runs them, fails with on a connection to f.
func sqlQueryError(t *testing.T, f fakePostgres) error {
	t.Helper()
	db, err := sql.Open("pgx", f.start(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	err = db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one)
	if err == nil {
		t.Fatal("the query succeeded")
	}
	return err
}

// connectError is what connecting to url fails with, within timeout.
func connectError(t *testing.T, url string, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgconn.Connect(ctx, url)
	if err == nil {
		_ = conn.Close(ctx)
		t.Fatal("connected")
	}
	return err
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func fatal(code, message string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: message}
}

// TestIsDatabaseUnavailable: every way PostgreSQL being down or restarting
// reaches the server is counted, as pgx and the network really report it;
// a refusal of what was asked, a bad password and an end of stream that is
// not the database's are not.
func TestIsDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	dialErr := func() error {
		_, err := net.DialTimeout("tcp", closedPort(t), time.Second)
		return err
	}
	cases := []struct {
		name string
		err  func() error
		want bool
	}{
		{"connection refused", func() error {
			return connectError(t, "postgres://canopy@"+closedPort(t)+"/canopy?sslmode=disable", 5*time.Second)
		}, true},
		{"a deadline while connecting", func() error {
			return connectError(t, fakePostgres{silent: true}.start(t), 200*time.Millisecond)
		}, true},
		{"57P03 cannot_connect_now (starting up)", func() error {
			return connectError(t, fakePostgres{startupError: fatal("57P03", "the database system is starting up")}.start(t), 5*time.Second)
		}, true},
		{"closed during the start-up", func() error {
			return connectError(t, fakePostgres{hangUp: true}.start(t), 5*time.Second)
		}, true},
		{"57P01 admin_shutdown at a query", func() error {
			return queryError(t, fakePostgres{onQuery: func(_ *net.TCPConn, b *pgproto3.Backend) {
				b.Send(fatal("57P01", "terminating connection due to administrator command"))
				_ = b.Flush()
			}})
		}, true},
		{"57P02 crash_shutdown at a query", func() error {
			return queryError(t, fakePostgres{onQuery: func(_ *net.TCPConn, b *pgproto3.Backend) {
				b.Send(fatal("57P02", "terminating connection because of crash of another server process"))
				_ = b.Flush()
			}})
		}, true},
		{"08006 connection_failure", func() error {
			return queryError(t, fakePostgres{onQuery: func(_ *net.TCPConn, b *pgproto3.Backend) {
				b.Send(fatal("08006", "connection failure"))
				_ = b.Flush()
			}})
		}, true},
		{"the socket closed under a query, on a closed connection", func() error {
			return queryError(t, fakePostgres{onQuery: func(*net.TCPConn, *pgproto3.Backend) {}})
		}, true},
		{"the socket closed under a query, through database/sql", func() error {
			return sqlQueryError(t, fakePostgres{onQuery: func(*net.TCPConn, *pgproto3.Backend) {}})
		}, true},
		{"connection reset under a query, through database/sql", func() error {
			return sqlQueryError(t, fakePostgres{onQuery: func(c *net.TCPConn, _ *pgproto3.Backend) { _ = c.SetLinger(0) }})
		}, true},
		{"a dial refused", dialErr, true},
		{"database/sql's bad connection, wrapped", func() error { return fmt.Errorf("load request frame: %w", driver.ErrBadConn) }, true},
		{"pgx's closed connection", func() error { return fmt.Errorf("commit: %w", pgconn.ErrConnClosed) }, true},

		{"a bad password (28P01)", func() error {
			return connectError(t, fakePostgres{startupError: fatal("28P01", "password authentication failed")}.start(t), 5*time.Second)
		}, false},
		{"a unique violation", func() error { return &pgconn.PgError{Code: "23505"} }, false},
		{"a query cancelled (57014)", func() error { return &pgconn.PgError{Code: "57014"} }, false},
		{"no rows", func() error { return sql.ErrNoRows }, false},
		{"a refusal of the models", func() error { return models.ErrNotFound }, false},
		{"an empty request body", func() error { return fmt.Errorf("decode JSON: %w", io.EOF) }, false},
		{"the client went away", func() error { return context.Canceled }, false},
		{"a request's own deadline", func() error { return context.DeadlineExceeded }, false},
		{"nil", func() error { return nil }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if got := models.IsDatabaseUnavailable(err); got != c.want {
				t.Fatalf("IsDatabaseUnavailable(%v) = %v, want %v", err, got, c.want)
			}
			if err != nil && c.want && !models.IsDatabaseUnavailable(errors.Join(errors.New("request failed"), err)) {
				t.Fatalf("wrapped, %v is no longer counted", err)
			}
		})
	}
}
