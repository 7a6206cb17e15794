package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gorm.io/gorm"

	"canopy/handlers"
	"canopy/internal/config"
	"canopy/models"
)

// The EXPLAIN pass runs one sample of each scenario through the real
// handlers in this process — same configuration and session key as the
// server, so the virtual clients' cookies work — with a GORM callback that
// records every statement and its parameters. The SQL is therefore exactly
// what the server runs, not a copy that could drift from models/*.go. Each
// SELECT is then EXPLAINed as the server's database role, in one transaction
// that replays the request's set_config calls (so row-level security sees
// the same scope) and is rolled back.
//
// Each SELECT is explained twice. With its values written in, Postgres
// plans for those values (a custom plan). But the server's driver (pgx)
// prepares each statement once per connection and reuses it, and after five
// runs Postgres may switch that statement to a generic plan made without
// the values, which can be far worse (it assumes an average tenant). So the
// statement is also PREPAREd, EXECUTEd five times and then explained: the
// plan a warm server connection really runs.

const explainIntro = "Every statement one sample of each page sent, captured from the handlers run in-process with the server's configuration, " +
	"then each SELECT run again under `EXPLAIN (ANALYZE, BUFFERS)` as the server's database role, after the request's `set_config` scope, " +
	"in a transaction rolled back afterwards. Two times per SELECT: **custom**, planned for its values; **cached**, the sixth EXECUTE " +
	"of a prepared statement, which is what the server's driver runs once a connection is warm (Postgres may then use a generic plan). " +
	"The cached plan is shown when it is much slower. A query already shown for an earlier page (same text) is only listed. " +
	"Times are from a quiet server, after the load.\n\n"

// recorder keeps every statement GORM sends, with its parameters.
type recorder struct {
	mu    sync.Mutex
	stmts []captured
}

type captured struct {
	sql  string // with $1, $2… placeholders
	vars []any
}

// listen records every statement of db, whichever way it was sent.
func (r *recorder) listen(db *gorm.DB) error {
	record := func(tx *gorm.DB) {
		// A dry run only builds SQL: GORM makes a subquery's text that way.
		if tx.Statement.SQL.Len() == 0 || tx.DryRun {
			return
		}
		r.mu.Lock()
		r.stmts = append(r.stmts, captured{tx.Statement.SQL.String(), slices.Clone(tx.Statement.Vars)})
		r.mu.Unlock()
	}
	cb := db.Callback()
	return errors.Join(
		db.Use(r),
		cb.Query().After("gorm:query").Register("bench:record", record),
		cb.Row().After("gorm:row").Register("bench:record", record),
		cb.Raw().After("gorm:raw").Register("bench:record", record),
		cb.Create().After("gorm:create").Register("bench:record", record),
		cb.Update().After("gorm:update").Register("bench:record", record),
		cb.Delete().After("gorm:delete").Register("bench:record", record),
	)
}

// The recorder is also told of the statements the store sends past GORM's
// callbacks (the request frame, pipelined with BEGIN).
func (r *recorder) Name() string              { return models.StatementObserverName }
func (r *recorder) Initialize(*gorm.DB) error { return nil }
func (r *recorder) ObserveStatement(sql string, vars []any) {
	r.mu.Lock()
	r.stmts = append(r.stmts, captured{sql, slices.Clone(vars)})
	r.mu.Unlock()
}

func (r *recorder) take() []captured {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}

// inProcess answers requests with a handler, as if over the network.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Host, req.RemoteAddr, req.RequestURI = req.URL.Host, "127.0.0.1:40000", req.URL.RequestURI()
	if req.Body == nil { // a server's request always has one; Echo's body limit reads it
		req.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	res := rec.Result()
	res.Request = req
	return res, nil
}

// pagePlans is what one sample of a scenario asked the database.
type pagePlans struct {
	name, request string
	statements    []statement
	err           string
	wire          wireCount // what the sample sent over the wire
	counted       bool
}

type statement struct {
	captured
	literal    string // sql with its values written in
	kind       string // "select", "scope" (set_config), "savepoint" or "write"
	plan, time string // EXPLAIN of the literal statement: custom plan, "Execution Time"
	cachedPlan string // EXPLAIN EXECUTE of the warm prepared statement
	cachedTime string
	err        string
	shownIn    string // the earlier page whose same query is shown in full
}

// cachedSlower tells whether the warm prepared statement ran much slower
// than the custom plan: a generic plan the server suffers from.
func (st statement) cachedSlower() bool {
	custom, err1 := strconv.ParseFloat(strings.TrimSuffix(st.time, " ms"), 64)
	cached, err2 := strconv.ParseFloat(strings.TrimSuffix(st.cachedTime, " ms"), 64)
	return err1 == nil && err2 == nil && cached > 2*custom && cached-custom > 1
}

// explainPages runs one sample of every scenario through the handlers in
// this process, after a first sample that warms the database pool and the
// driver's prepared statements as the load left the server's. For each
// scenario it counts the statements and round trips of the sample
// (wireProxy); for each page it also captures and explains its statements.
// The handlers' log goes to logPath; a failed sample's errors are quoted.
func explainPages(ctx context.Context, env map[string]string, appURL, logPath string, scenarios []scenario) ([]pagePlans, map[string]wireCount, error) {
	cfg, err := config.Parse(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, nil, err
	}
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		return nil, nil, err
	}
	target, err := dbAddress(appURL)
	if err != nil {
		return nil, nil, err
	}
	proxy, err := startWireProxy(target)
	if err != nil {
		return nil, nil, err
	}
	defer proxy.close()
	counted, err := viaProxy(appURL, proxy.l.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	store, db, closeDB, err := handlerStore(ctx, cfg, secrets, counted)
	if err != nil {
		return nil, nil, err
	}
	defer closeDB()
	rec := &recorder{}
	if err := rec.listen(db); err != nil {
		return nil, nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer logFile.Close()
	var sampleLog lockedBuffer
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logFile, &sampleLog), nil))
	router := handlers.New(cfg, store, secrets, logger).Router()

	explainDB, err := sql.Open("pgx", appURL)
	if err != nil {
		return nil, nil, err
	}
	defer explainDB.Close()

	var out []pagePlans
	costs := map[string]wireCount{}
	shown := map[string]string{} // query shape → the page that showed it
	for _, sc := range scenarios {
		if len(sc.clients) == 0 {
			continue
		}
		p := pagePlans{name: sc.name, request: sc.request}
		c := sc.clients[0].via(inProcess{router})
		// The warm-up sample; a switch goes there and the sample comes back.
		_ = sc.do(ctx, c)
		rec.take()
		sampleLog.reset()
		before := proxy.counts.read()
		if err := sc.do(ctx, c); err != nil {
			p.err = err.Error()
			if logged := errorLines(sampleLog.String()); logged != "" {
				p.err += "; handler log: " + logged
			}
		}
		if p.err == "" {
			costs[sc.name] = proxy.counts.read().minus(before)
			p.wire, p.counted = costs[sc.name], true
		}
		statements := rec.take()
		if !sc.page {
			continue
		}
		for _, c := range statements {
			p.statements = append(p.statements, statement{captured: c, literal: db.Explain(c.sql, c.vars...), kind: kindOf(c.sql)})
		}
		if err := explainAll(ctx, explainDB, db.Dialector, p.statements); err != nil {
			p.err = strings.TrimSpace(p.err + " " + err.Error())
		}
		for i := range p.statements {
			st := &p.statements[i]
			if st.kind != "select" {
				continue
			}
			if page, ok := shown[st.sql]; ok {
				st.shownIn = page
			} else {
				shown[st.sql] = sc.name
			}
		}
		out = append(out, p)
	}
	return out, costs, nil
}

// handlerStore is the store `canopy serve` builds (cmd/canopy/serve.go):
// webhooks on, a detached pool, the scope key checked; its pools connect to
// dbURL. db is the main pool, whose statements the recorder hears.
func handlerStore(ctx context.Context, cfg *config.Config, secrets *config.Secrets, dbURL string) (*models.Store, *gorm.DB, func(), error) {
	db, err := models.OpenPostgres(dbURL)
	if err != nil {
		return nil, nil, nil, err
	}
	detached, err := models.OpenPostgresDetached(dbURL)
	if err != nil {
		_ = models.Close(db)
		return nil, nil, nil, err
	}
	closeBoth := func() { _ = models.Close(detached); _ = models.Close(db) }
	store, err := models.NewStore(db).WithScopeKey(secrets.DatabaseScope).
		WithWebhooks(models.WebhookSettings{SecretKey: secrets.WebhookSecret, HTTPHosts: cfg.WebhookHTTPHosts})
	if err != nil {
		closeBoth()
		return nil, nil, nil, err
	}
	store = store.WithDetachedPool(detached)
	if err := store.CheckScopeKey(ctx); err != nil {
		closeBoth()
		return nil, nil, nil, err
	}
	return store, db, closeBoth, nil
}

// lockedBuffer is a log destination that handlers may write from several
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// errorLines are the ERROR records of a text log, each cut to its first
// 400 characters (a panic's record holds its whole stack), joined.
func errorLines(log string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, oneLine(line, 400))
		}
	}
	return strings.Join(out, " | ")
}

func kindOf(sql string) string {
	s := strings.ToUpper(strings.TrimSpace(sql))
	switch {
	case strings.Contains(s, "SET_CONFIG("):
		return "scope"
	case strings.HasPrefix(s, "SELECT"), strings.HasPrefix(s, "WITH"):
		return "select"
	case strings.HasPrefix(s, "SAVEPOINT"), strings.HasPrefix(s, "RELEASE"), strings.HasPrefix(s, "ROLLBACK"):
		return "savepoint"
	default:
		return "write"
	}
}

// explainAll replays a request's statements in one rolled-back transaction:
// scopes are applied, selects explained, writes skipped (they already ran).
// A savepoint around each select keeps one failure from spoiling the rest.
func explainAll(ctx context.Context, db *sql.DB, dialector gorm.Dialector, stmts []statement) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // always rolled back: it only explains
	for i := range stmts {
		st := &stmts[i]
		switch st.kind {
		case "scope":
			if _, err := tx.ExecContext(ctx, st.literal); err != nil {
				return fmt.Errorf("replay %s: %w", st.literal, err)
			}
		case "select":
			if _, err := tx.ExecContext(ctx, "SAVEPOINT explain"); err != nil {
				return err
			}
			if err := explainSelect(ctx, tx, dialector, st); err != nil {
				st.err = err.Error()
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT explain"); err != nil {
					return err
				}
			}
			// Prepared statements outlive savepoints; only ours goes (the
			// driver keeps its own on this connection).
			var prepared bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_prepared_statements WHERE name = 'bench_q')`).Scan(&prepared); err != nil {
				return err
			}
			if prepared {
				if _, err := tx.ExecContext(ctx, "DEALLOCATE bench_q"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func explainSelect(ctx context.Context, tx *sql.Tx, dialector gorm.Dialector, st *statement) (err error) {
	if st.plan, st.time, err = explain(ctx, tx, "EXPLAIN (ANALYZE, BUFFERS) "+st.literal); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "PREPARE bench_q AS "+st.sql); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	execute := "EXECUTE bench_q"
	if len(st.vars) > 0 {
		placeholders := make([]string, len(st.vars))
		for i := range placeholders {
			placeholders[i] = "$" + strconv.Itoa(i+1)
		}
		execute = dialector.Explain(execute+"("+strings.Join(placeholders, ", ")+")", st.vars...)
	}
	for range 5 { // Postgres plans the first five runs for their values
		if _, err := tx.ExecContext(ctx, execute); err != nil {
			return fmt.Errorf("execute: %w", err)
		}
	}
	st.cachedPlan, st.cachedTime, err = explain(ctx, tx, "EXPLAIN (ANALYZE, BUFFERS) "+execute)
	return err
}

func explain(ctx context.Context, tx *sql.Tx, query string) (plan, took string, err error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return "", "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", "", err
		}
		lines = append(lines, line)
		if t, ok := strings.CutPrefix(line, "Execution Time: "); ok {
			took = t
		}
	}
	return strings.Join(lines, "\n"), took, rows.Err()
}

func (p pagePlans) markdown() string {
	var b strings.Builder
	n := map[string]int{}
	for _, st := range p.statements {
		n[st.kind]++
	}
	fmt.Fprintf(&b, "### %s\n\n%s: %d statements (%d selects, %d writes, %d set_config scopes, %d savepoints).\n\n",
		p.name, p.request, len(p.statements), n["select"], n["write"], n["scope"], n["savepoint"])
	if p.counted {
		fmt.Fprintf(&b, "On the wire: %d statements (BEGIN and COMMIT included) in %d round trips.\n\n", p.wire.statements, p.wire.roundTrips)
	}
	if p.err != "" {
		fmt.Fprintf(&b, "Error: `%s`\n\n", p.err)
	}
	for i, st := range p.statements {
		times := fmt.Sprintf("custom %s, cached %s", st.time, st.cachedTime)
		if st.cachedSlower() {
			times += " **(generic plan, slower)**"
		}
		switch {
		case st.kind != "select":
			fmt.Fprintf(&b, "%d. %s: `%s`\n", i+1, st.kind, oneLine(st.literal, 160))
		case st.err != "":
			fmt.Fprintf(&b, "%d. `%s`\n   EXPLAIN failed: %s\n", i+1, oneLine(st.literal, 160), st.err)
		case st.shownIn != "":
			fmt.Fprintf(&b, "%d. %s (as in %s): `%s`\n", i+1, times, st.shownIn, oneLine(st.literal, 160))
		default:
			fmt.Fprintf(&b, "%d. %s\n\n   ```sql\n   %s\n   ```\n\n", i+1, times, oneLine(st.literal, 0))
			fmt.Fprintf(&b, "   <details><summary>plan</summary>\n\n   ```\n%s\n   ```\n\n   </details>\n\n", indent(st.plan, "   "))
			if st.cachedSlower() {
				fmt.Fprintf(&b, "   <details><summary>cached (generic) plan</summary>\n\n   ```\n%s\n   ```\n\n   </details>\n\n", indent(st.cachedPlan, "   "))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// oneLine squeezes whitespace and, when n > 0, shortens to n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if n > 0 && len([]rune(s)) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return strings.ReplaceAll(s, "`", "'")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
