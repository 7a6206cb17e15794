package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm/logger"

	"canopy/handlers"
	"canopy/internal/config"
	"canopy/models"
)

// The EXPLAIN pass runs one sample of each scenario through the real
// handlers in this process — same configuration and session key as the
// server, so the virtual clients' cookies work — with a GORM logger that
// records every statement. The SQL is therefore exactly what the server
// runs, not a copy that could drift from models/*.go. Each SELECT is then
// EXPLAINed as the server's database role, in one transaction that replays
// the request's set_config calls (so row-level security sees the same
// scope) and is rolled back.

const explainIntro = "Every statement one sample of each page sent, captured from the handlers run in-process with the server's configuration, " +
	"then each SELECT run again under `EXPLAIN (ANALYZE, BUFFERS)` as the server's database role, after the request's `set_config` scope, " +
	"in a transaction rolled back afterwards. A query already shown for an earlier page (same text up to its literals) is only listed. " +
	"Times are from a quiet server, after the load.\n\n"

// recorder is a GORM logger that keeps every statement's SQL.
type recorder struct {
	mu   sync.Mutex
	sqls []string
}

func (r *recorder) LogMode(logger.LogLevel) logger.Interface { return r }
func (r *recorder) Info(context.Context, string, ...any)     {}
func (r *recorder) Warn(context.Context, string, ...any)     {}
func (r *recorder) Error(context.Context, string, ...any)    {}
func (r *recorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	sql, _ := fc()
	r.mu.Lock()
	r.sqls = append(r.sqls, sql)
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sqls
	r.sqls = nil
	return out
}

// inProcess answers requests with a handler, as if over the network.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Host, req.RemoteAddr, req.RequestURI = req.URL.Host, "127.0.0.1:40000", req.URL.RequestURI()
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
}

type statement struct {
	sql     string
	kind    string // "select", "scope" (set_config) or "write"
	plan    string // EXPLAIN output, for a select
	time    string // its "Execution Time" line
	err     string
	shownIn string // the earlier page whose same query is shown in full
}

func explainPages(ctx context.Context, env map[string]string, appURL string, scenarios []scenario) ([]pagePlans, error) {
	cfg, err := config.Parse(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, err
	}
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		return nil, err
	}
	db, err := models.OpenPostgres(appURL)
	if err != nil {
		return nil, err
	}
	defer models.Close(db)
	rec := &recorder{}
	db.Logger = rec
	router := handlers.New(cfg, models.NewStore(db), secrets, slog.New(slog.DiscardHandler)).Router()

	explainDB, err := sql.Open("pgx", appURL)
	if err != nil {
		return nil, err
	}
	defer explainDB.Close()

	var out []pagePlans
	shown := map[string]string{} // query shape → the page that showed it
	for _, sc := range scenarios {
		if !sc.page || len(sc.clients) == 0 {
			continue
		}
		p := pagePlans{name: sc.name, request: sc.request}
		rec.take()
		if err := sc.do(ctx, sc.clients[0].via(inProcess{router})); err != nil {
			p.err = err.Error()
		}
		for _, s := range rec.take() {
			p.statements = append(p.statements, statement{sql: s, kind: kindOf(s)})
		}
		if err := explainAll(ctx, explainDB, p.statements); err != nil {
			p.err = strings.TrimSpace(p.err + " " + err.Error())
		}
		for i := range p.statements {
			st := &p.statements[i]
			if st.kind != "select" {
				continue
			}
			if page, ok := shown[shape(st.sql)]; ok {
				st.shownIn = page
			} else {
				shown[shape(st.sql)] = sc.name
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func kindOf(sql string) string {
	s := strings.ToUpper(strings.TrimSpace(sql))
	switch {
	case strings.Contains(s, "SET_CONFIG("):
		return "scope"
	case strings.HasPrefix(s, "SELECT"), strings.HasPrefix(s, "WITH"):
		return "select"
	default:
		return "write"
	}
}

// explainAll replays a request's statements in one rolled-back transaction:
// scopes are applied, selects explained, writes skipped (they already ran).
// A savepoint around each EXPLAIN keeps one failure from spoiling the rest.
func explainAll(ctx context.Context, db *sql.DB, stmts []statement) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := range stmts {
		st := &stmts[i]
		switch st.kind {
		case "scope":
			if _, err := tx.ExecContext(ctx, st.sql); err != nil {
				return fmt.Errorf("replay %s: %w", st.sql, err)
			}
		case "select":
			if _, err := tx.ExecContext(ctx, "SAVEPOINT explain"); err != nil {
				return err
			}
			st.plan, st.time, err = explainOne(ctx, tx, st.sql)
			if err != nil {
				st.err = err.Error()
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT explain"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func explainOne(ctx context.Context, tx *sql.Tx, query string) (plan, took string, err error) {
	rows, err := tx.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+query)
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

var literals = regexp.MustCompile(`'(?:[^']|'')*'|\b\d+\b`)

// shape is a query with its literals blanked: the same query for another
// tenant or user has the same shape.
func shape(sql string) string { return literals.ReplaceAllString(sql, "?") }

func (p pagePlans) markdown() string {
	var b strings.Builder
	var selects, scopes, writes int
	for _, st := range p.statements {
		switch st.kind {
		case "select":
			selects++
		case "scope":
			scopes++
		default:
			writes++
		}
	}
	fmt.Fprintf(&b, "### %s\n\n%s: %d statements (%d selects, %d writes, %d set_config scopes).\n\n",
		p.name, p.request, len(p.statements), selects, writes, scopes)
	if p.err != "" {
		fmt.Fprintf(&b, "Error: `%s`\n\n", p.err)
	}
	for i, st := range p.statements {
		switch {
		case st.kind != "select":
			fmt.Fprintf(&b, "%d. %s: `%s`\n", i+1, st.kind, oneLine(st.sql, 160))
		case st.err != "":
			fmt.Fprintf(&b, "%d. `%s`\n   EXPLAIN failed: %s\n", i+1, oneLine(st.sql, 160), st.err)
		case st.shownIn != "":
			fmt.Fprintf(&b, "%d. %s (as in %s): `%s`\n", i+1, st.time, st.shownIn, oneLine(st.sql, 160))
		default:
			fmt.Fprintf(&b, "%d. %s\n\n   ```sql\n   %s\n   ```\n\n   <details><summary>plan</summary>\n\n   ```\n%s\n   ```\n\n   </details>\n\n",
				i+1, st.time, oneLine(st.sql, 0), indent(st.plan, "   "))
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
