package models

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// PageRequest is which slice of a list to show.
type PageRequest struct {
	Number int // 1-based
	Size   int
}

// CountCap is how far a list counts and pages: "1–25 of 10,000+" is as
// useful as an exact count of a million, which would read a million rows on
// every page view, and the pages past it (OFFSET walks every row before the
// page) are reached by searching instead.
const CountCap = 10000

// ParsePage reads a "page" query value; anything unusable means page 1, and
// no page starts past CountCap.
func ParsePage(raw string, size int) PageRequest {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 1 {
		n = 1
	}
	if size > 0 && n > CountCap/size {
		n = max(1, CountCap/size)
	}
	return PageRequest{Number: n, Size: size}
}

// Offset is the number of rows before this page.
func (p PageRequest) Offset() int { return (p.Number - 1) * p.Size }

// Page is one page of a list and where it sits in the whole.
type Page[T any] struct {
	Items []T
	PageRequest
	Total  int64
	Capped bool // there are more than Total (CountCap) rows
}

// HasPrev tells whether there is a page before this one.
func (p Page[T]) HasPrev() bool { return p.Number > 1 }

// HasNext tells whether there is a page after this one.
func (p Page[T]) HasNext() bool { return int64(p.Number*p.Size) < p.Total }

// First is the 1-based position of this page's first row in the whole list.
func (p Page[T]) First() int64 {
	if len(p.Items) == 0 {
		return 0
	}
	return int64(p.Offset() + 1)
}

// Last is the 1-based position of this page's last row in the whole list.
func (p Page[T]) Last() int64 { return int64(p.Offset() + len(p.Items)) }

// PageInfo is where a page sits in its list, without its rows: all a pager
// needs, whatever the list holds.
type PageInfo struct {
	Number           int
	Rows             int   // on this page
	First, Last      int64 // see Page.First
	Total            int64
	Capped           bool
	HasPrev, HasNext bool
}

// Info is the page without its rows.
func (p Page[T]) Info() PageInfo {
	return PageInfo{
		Number: p.Number, Rows: len(p.Items), First: p.First(), Last: p.Last(),
		Total: p.Total, Capped: p.Capped, HasPrev: p.HasPrev(), HasNext: p.HasNext(),
	}
}

// countCapped counts rows up to CountCap into page, reading at most one row
// past it. db is any connection; rows is the list's query, unordered.
func countCapped[T any](db, rows *gorm.DB, page *Page[T]) error {
	if rows.Error != nil { // e.g. ErrNoTenant, which a subquery would drop
		return rows.Error
	}
	var n int64
	if err := db.Table("(?) AS counted", rows.Select("1").Limit(CountCap+1)).Count(&n).Error; err != nil {
		return err
	}
	page.setTotal(n)
	return nil
}

// setTotal records how many rows the whole list has, as a pager shows it:
// up to CountCap, and whether there are more.
func (p *Page[T]) setTotal(n int64) {
	p.Total, p.Capped = min(n, CountCap), n > CountCap
}

// withKeptTotal is one row of a list read with the size of the whole list
// beside it, as readPageWithKeptTotal reads them.
type withKeptTotal[T any] struct {
	Row       T `gorm:"embedded"`
	ListTotal int64
}

// readPageWithKeptTotal reads one page of a list whose size the database
// keeps up to date (tenants.child_count, tenants.device_count), in one
// statement: rows is the page's query (ordered and limited), columns and
// args what it selects, and total a query selecting the kept size, which
// each row carries as list_total. Only a page past the end, with no row to
// carry it, reads the total on its own. Lists without a kept size
// (searches) count with countCapped instead.
func readPageWithKeptTotal[T any](rows, total *gorm.DB, page *Page[T], columns string, args ...any) error {
	var read []withKeptTotal[T]
	if err := rows.Select(columns+", (?) AS list_total", append(args, total)...).Scan(&read).Error; err != nil {
		return err
	}
	page.Items = make([]T, len(read))
	for i := range read {
		page.Items[i] = read[i].Row
	}
	var n int64
	switch {
	case len(read) > 0:
		n = read[0].ListTotal
	case page.Number > 1:
		if err := total.Scan(&n).Error; err != nil {
			return err
		}
	}
	page.setTotal(n)
	return nil
}

// planSearch makes Postgres plan the rest of the transaction's statements
// for their values. Plans are otherwise cached per connection after five
// runs, and a cached plan for "contains x" cannot know whether x matches
// three rows or thirty thousand (measured: 0.5 ms planned, 4.7 ms cached).
// Outside a transaction (SQLite, tests) it does nothing.
func (s *Store) planSearch(ctx context.Context) error {
	if s.Dialect() != Postgres || (!s.inTx && requestTx(ctx) == nil) {
		return nil
	}
	if err := s.conn(ctx).Exec("SET LOCAL plan_cache_mode = force_custom_plan").Error; err != nil {
		return fmt.Errorf("plan search: %w", err)
	}
	return nil
}

// containsAny narrows q to rows where any of columns contains what a person
// typed, in any case: ILIKE on Postgres, which the trigram indexes serve,
// and LIKE on SQLite, which ignores case by itself (ASCII, as lower() does).
func (s *Store) containsAny(q *gorm.DB, typed string, columns ...string) *gorm.DB {
	cond, args := s.containsCondition(typed, columns...)
	return q.Where(cond, args...)
}

// containsCondition is containsAny's condition and its arguments, for a
// statement that combines it with others.
func (s *Store) containsCondition(typed string, columns ...string) (string, []any) {
	op := "LIKE"
	if s.Dialect() == Postgres {
		op = "ILIKE"
	}
	like := LikePattern(typed)
	conds := make([]string, len(columns))
	args := make([]any, len(columns))
	for i, column := range columns {
		conds[i] = column + " " + op + ` ? ESCAPE '\'`
		args[i] = like
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// LikePattern turns what a person typed into a case-insensitive substring
// pattern, with LIKE's wildcards taken literally.
func LikePattern(q string) string {
	q = strings.ToLower(searchable(q))
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}
