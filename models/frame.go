package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// FrameQuery is what a page request knows before the database: its host's
// subdomain ("" on the base domain), the user and session record its
// signed cookie names (0 for none), and the scope to see them with.
type FrameQuery struct {
	Subdomain string
	UserID    int64
	SessionID int64
	Scope     Scope
	Now       time.Time
	// Toggle asks for the company toggle too, when the user is a member of
	// the host's tenant: what every page of theirs shows.
	Toggle bool
}

// Frame is what every page request needs before its handler: the host's
// tenant with the tenants above it, the signed-in user with their session
// record, and their membership of the host's tenant.
type Frame struct {
	Lineage    Lineage // empty on the base domain or an unknown subdomain
	User       *User   // nil: no user, or their session no longer counts
	Session    *UserSession
	Membership *Membership // nil: not a member (or no user)
	Toggle     *Toggle     // the company toggle, when asked for and a member; else nil
}

// LoadFrame reads a request's frame and applies q.Scope for the rest of the
// request, returning the context that carries it. On PostgreSQL that is one
// statement (canopy_request_frame, migrations/postgres/00037), sent with
// the request transaction's BEGIN in one round trip. The scope is the
// caller's guess (the tenant a subdomain had, the role the session last
// saw): what the frame reads does not depend on it, and the caller applies
// the right one (SetScope) when the frame shows it was wrong. On SQLite
// the same reads are separate statements.
//
// A session record that no longer counts (ended, idle past its lifetime,
// of an older session version) leaves User and Session nil.
func (s *Store) LoadFrame(ctx context.Context, q FrameQuery) (context.Context, *Frame, error) {
	q.Subdomain = NormalizeSubdomain(searchable(q.Subdomain))
	if s.Dialect() != Postgres {
		f, err := s.frameByStatements(ctx, q)
		return WithScope(ctx, q.Scope), f, err
	}
	ctx = WithScope(ctx, q.Scope)
	values := q.Scope.settings()
	args := []any{q.Subdomain, q.UserID, q.SessionID,
		q.Now.UTC().Add(-SessionIdleLifetime), q.Now.UTC().Add(-SessionLifetime),
		values[0], values[1], values[2], values[3], values[4], scopeSignature(s.scopeKey, values), toggleSize(q)}
	var payload []byte
	var err error
	if holder := holderOf(ctx); holder != nil && holder.tx == nil {
		payload, err = s.beginWithFrame(ctx, holder, args)
	} else {
		err = s.conn(ctx).Raw(frameByGORM, args...).Row().Scan(&payload)
	}
	if err != nil {
		return ctx, nil, fmt.Errorf("load request frame: %w", err)
	}
	if holder := holderOf(ctx); holder != nil {
		holder.applied = q.Scope
	}
	f, err := decodeFrame(payload)
	return ctx, f, err
}

// The frame's statement, for pgx (pipelined) and for GORM (in a
// transaction begun already).
const (
	frameSQL    = `SELECT canopy_request_frame($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	frameByGORM = `SELECT canopy_request_frame(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// toggleSize is how many companies the frame's toggle lists: none when
// not asked for.
func toggleSize(q FrameQuery) int {
	if q.Toggle {
		return ToggleSize
	}
	return 0
}

// beginWithFrame begins the request's transaction on a connection of its
// own and reads the frame in the same round trip: BEGIN and the frame,
// pipelined. The rest of the request runs on that connection through GORM
// (pinnedTx), and Request commits it.
func (s *Store) beginWithFrame(ctx context.Context, holder *requestTxHolder, args []any) ([]byte, error) {
	pool, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Conn(holder.ctx)
	if err != nil {
		return nil, err
	}
	var payload []byte
	observeStatement(s.db, frameSQL, args)
	err = conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("pipelined frame: a %T is not pgx's", driverConn)
		}
		batch := &pgx.Batch{}
		batch.Queue("BEGIN")
		batch.Queue(frameSQL, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&payload) })
		err := pc.Conn().SendBatch(ctx, batch).Close()
		if err != nil && pc.Conn().PgConn().TxStatus() != 'I' {
			_, _ = pc.Conn().Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	})
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	tx := s.db.Session(&gorm.Session{NewDB: true, Context: holder.ctx})
	tx.Statement.ConnPool = &pinnedTx{Conn: conn}
	holder.tx = tx
	return payload, nil
}

// pinnedTx is a transaction begun by hand on one connection of the pool
// (beginWithFrame), as GORM sees a transaction: its statements run on the
// connection, savepoints nest in it, and Commit or Rollback ends it and
// gives the connection back.
type pinnedTx struct {
	*sql.Conn
}

func (t *pinnedTx) Commit() error   { return t.end("COMMIT") }
func (t *pinnedTx) Rollback() error { return t.end("ROLLBACK") }

// end sends COMMIT or ROLLBACK whatever became of the request's context,
// then returns the connection to the pool — or closes it when the database
// could not be told, so that no connection goes back mid-transaction. A
// COMMIT that PostgreSQL answers with ROLLBACK (the transaction had failed:
// a statement's error that its caller logged and went past) is an error,
// as pgx's own Tx.Commit makes it; database/sql would report success.
func (t *pinnedTx) end(statement string) error {
	err := t.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("end a pinned transaction: a %T is not pgx's", driverConn)
		}
		tag, err := pc.Conn().Exec(context.Background(), statement)
		var pgErr *pgconn.PgError
		if err != nil && !errors.As(err, &pgErr) {
			return errors.Join(err, driver.ErrBadConn) // the connection goes, not back to the pool
		}
		if err == nil && statement == "COMMIT" && tag.String() == "ROLLBACK" {
			return ErrCommitRolledBack
		}
		return err
	})
	if closeErr := t.Close(); err == nil {
		err = closeErr
	}
	return err
}

// ErrCommitRolledBack is a request's COMMIT that PostgreSQL answered by
// rolling the transaction back, because one of its statements had failed.
var ErrCommitRolledBack = errors.New("commit unexpectedly resulted in rollback")

// frameByStatements reads the frame one statement at a time (SQLite).
func (s *Store) frameByStatements(ctx context.Context, q FrameQuery) (*Frame, error) {
	f := &Frame{}
	if q.Subdomain != "" {
		l, err := s.lineage(ctx, "lower(tenants.subdomain) = ?", q.Subdomain)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		f.Lineage = l
	}
	if q.UserID == 0 || q.SessionID == 0 {
		return f, nil
	}
	u, rec, err := s.UserBySession(ctx, q.UserID, q.SessionID, q.Now)
	if errors.Is(err, ErrNotFound) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	f.User, f.Session = u, rec
	if len(f.Lineage) == 0 {
		return f, nil
	}
	m, err := s.MembershipOf(ctx, f.Lineage.Tenant().ID, u.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return f, nil
	}
	f.Membership = m
	if q.Toggle {
		toggle, err := s.CompanyToggle(ctx, u.ID, m.TenantID)
		if err != nil {
			return nil, err
		}
		f.Toggle = &toggle
	}
	return f, nil
}

// framePayload is canopy_request_frame's answer, its rows as to_json
// writes them: the models' json tags are their columns' names.
type framePayload struct {
	Lineage    Lineage      `json:"lineage"`
	User       *User        `json:"user"`
	Session    *UserSession `json:"session"`
	Membership *Membership  `json:"membership"`
	Toggle     *Toggle      `json:"toggle"`
}

func decodeFrame(payload []byte) (*Frame, error) {
	var p framePayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("decode request frame: %w", err)
	}
	f := &Frame{Lineage: p.Lineage, Membership: p.Membership, Toggle: p.Toggle}
	if p.User != nil && p.Session != nil {
		f.User, f.Session = p.User, p.Session
	}
	for i := range f.Lineage {
		timesAsDriverReadsThem(&f.Lineage[i])
	}
	for _, row := range []any{f.User, f.Session, f.Membership} {
		if !reflect.ValueOf(row).IsNil() {
			timesAsDriverReadsThem(row)
		}
	}
	return f, nil
}

// timesAsDriverReadsThem puts the times of the row row points to, read from
// JSON with an offset of +00:00, in the location pgx gives timestamps, so
// the frame's rows equal those GORM loads.
func timesAsDriverReadsThem(row any) {
	v := reflect.ValueOf(row).Elem()
	for i := range v.NumField() {
		switch t := v.Field(i).Addr().Interface().(type) {
		case *time.Time:
			*t = t.In(time.Local)
		case **time.Time:
			if *t != nil {
				local := (*t).In(time.Local)
				*t = &local
			}
		}
	}
}

// StatementObserver is told of each statement the store sends past GORM's
// callbacks (the pipelined frame), so that whoever counts statements
// through GORM — the query guard — counts those too. Register it with
// gorm.DB.Use under the name StatementObserverName.
type StatementObserver interface {
	gorm.Plugin
	ObserveStatement(sql string, vars []any) // sql with $1, $2… placeholders
}

// StatementObserverName is the plugin name a StatementObserver registers as.
const StatementObserverName = "canopy:statement-observer"

func observeStatement(db *gorm.DB, sql string, vars []any) {
	if observer, ok := db.Plugins[StatementObserverName].(StatementObserver); ok {
		observer.ObserveStatement(sql, vars)
	}
}
