package models

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"canopy/migrations"
)

// Dialect names the two databases Canopy runs on.
type Dialect string

// The dialects: PostgreSQL in production, SQLite as the zero-setup default.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DialectOf tells which database a connection talks to.
func DialectOf(db *gorm.DB) Dialect {
	if db.Name() == "postgres" {
		return Postgres
	}
	return SQLite
}

// OpenPostgres connects to the PostgreSQL database at url.
func OpenPostgres(url string) (*gorm.DB, error) { return openPostgres(url, 20) }

// OpenPostgresDetached connects a small second pool to url, for the short
// transactions a request detaches from its own (Store.WithDetachedPool).
func OpenPostgresDetached(url string) (*gorm.DB, error) { return openPostgres(url, 4) }

func openPostgres(url string, size int) (*gorm.DB, error) {
	cfg, err := pgx.ParseConfig(withConnectTimeout(url))
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	cfg.DialFunc = openConnections.track(cfg.DialFunc)
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)}), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(size)
	sqlDB.SetMaxIdleConns(size) // as many as may be open: a busy server should not reconnect
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// openConnections counts this process's network connections to
// PostgreSQL (or PgBouncer), cancel requests' included.
var openConnections connectionCount

// connectionCount counts the connections a DialFunc opened and are not
// closed yet.
type connectionCount struct {
	mu      sync.Mutex
	open    int
	changed chan struct{} // closed and replaced whenever open drops
}

// track wraps dial so every connection it makes is counted until closed.
func (c *connectionCount) track(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.open++
		c.mu.Unlock()
		return &countedConn{Conn: conn, count: c}, nil
	}
}

func (c *connectionCount) closed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// wait returns when no connection is open, or when ctx ends.
func (c *connectionCount) wait(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.open <= 0 {
			c.mu.Unlock()
			return nil
		}
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type countedConn struct {
	net.Conn
	count *connectionCount
	once  sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.count.closed)
	return err
}

// WaitConnectionsClosed waits, within ctx, until every connection this
// process opened to PostgreSQL is closed, after the pools were closed. A
// query cut short by its context leaves its connection to pgx, which
// closes it in the background after sending a cancel request; a process
// exiting meanwhile would drop that request half-sent, which PgBouncer
// 1.18 (Debian 12's) does not survive.
func WaitConnectionsClosed(ctx context.Context) error {
	return openConnections.wait(ctx)
}

// defaultConnectTimeout bounds making a connection when DATABASE_URL sets
// no connect_timeout: without one, a database host that drops packets holds
// each request that needs a new connection for the system's TCP timeout
// (minutes) before its 503.
const defaultConnectTimeout = "5"

// withConnectTimeout adds connect_timeout to a connection string (URL or
// key=value form) that has none.
func withConnectTimeout(dsn string) string {
	if strings.Contains(dsn, "connect_timeout=") {
		return dsn
	}
	if !strings.Contains(dsn, "://") {
		return strings.TrimSpace(dsn + " connect_timeout=" + defaultConnectTimeout)
	}
	u, err := neturl.Parse(dsn)
	if err != nil {
		return dsn // pgx reports it, without our help
	}
	q := u.Query()
	q.Set("connect_timeout", defaultConnectTimeout)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenSQLite opens (creating if needed) the embedded database file at path.
// Foreign keys are on, writers wait for each other instead of failing, and WAL
// lets readers proceed while one request writes. Transactions begin
// IMMEDIATE so two writers queue instead of failing on a lock upgrade. (The
// driver ignores _txlock when _time_format is given, so that stays unset;
// times are always UTC, so the default format still sorts correctly.)
func OpenSQLite(path string) (*gorm.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create database folder: %w", err)
	}
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	// SQLite has one writer at a time; a small pool avoids lock contention.
	sqlDB.SetMaxOpenConns(4)
	return db, nil
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		SkipDefaultTransaction: true,
	}
}

// Migrate brings the schema up to date with the migrations embedded for db's
// dialect. On Postgres an advisory lock makes concurrent start-ups safe.
func Migrate(ctx context.Context, db *gorm.DB, log *slog.Logger) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return migrateSQL(ctx, sqlDB, DialectOf(db), log)
}

func migrateSQL(ctx context.Context, sqlDB *sql.DB, dialect Dialect, log *slog.Logger) error {
	fsys, err := migrations.For(string(dialect))
	if err != nil {
		return err
	}
	gooseDialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if dialect == Postgres {
		gooseDialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(gooseDialect, sqlDB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
		}
	}
	return nil
}

// Ping checks that the database answers.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close releases the database connections.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// RowSecurityWarning says why row-level security would not hold for db's
// role, or "" when it does: a superuser or a BYPASSRLS role skips every
// policy, and an owner of the tables could switch them off. SQLite has no
// such security, which `make run` accepts.
func RowSecurityWarning(ctx context.Context, db *gorm.DB) (string, error) {
	if DialectOf(db) != Postgres {
		return "", nil
	}
	var role struct {
		Name      string
		Bypasses  bool
		OwnsTable bool
	}
	err := db.WithContext(ctx).Raw(`SELECT current_user AS name,
		(SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) AS bypasses,
		EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()
			AND pg_has_role(current_user, tableowner, 'USAGE')) AS owns_table`).
		Scan(&role).Error
	if err != nil {
		return "", fmt.Errorf("check database role: %w", err)
	}
	switch {
	case role.Bypasses:
		return fmt.Sprintf("the server connects as %s, a superuser or BYPASSRLS role, so row-level security does not apply: connect DATABASE_URL as a member of canopy_app and put the owner in DATABASE_OWNER_URL", role.Name), nil
	case role.OwnsTable:
		return fmt.Sprintf("the server connects as %s, which owns Canopy's tables (or is a member of their owner) and could switch row-level security off: connect DATABASE_URL as a member of canopy_app and put the owner in DATABASE_OWNER_URL", role.Name), nil
	}
	return "", nil
}
