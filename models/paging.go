package models

import (
	"strconv"
	"strings"
)

// PageRequest is which slice of a list to show.
type PageRequest struct {
	Number int // 1-based
	Size   int
}

// MaxPageNumber bounds OFFSET so a crafted page number cannot make the
// database walk an arbitrarily long list.
const MaxPageNumber = 10000

// ParsePage reads a "page" query value; anything unusable means page 1.
func ParsePage(raw string, size int) PageRequest {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 1 {
		n = 1
	}
	if n > MaxPageNumber {
		n = MaxPageNumber
	}
	return PageRequest{Number: n, Size: size}
}

// Offset is the number of rows before this page.
func (p PageRequest) Offset() int { return (p.Number - 1) * p.Size }

// Page is one page of a list and where it sits in the whole.
type Page[T any] struct {
	Items []T
	PageRequest
	Total int64
}

// HasPrev tells whether there is a page before this one.
func (p Page[T]) HasPrev() bool { return p.Number > 1 }

// HasNext tells whether there is a page after this one.
func (p Page[T]) HasNext() bool { return int64(p.Number*p.Size) < p.Total }

// First and Last are the 1-based positions of this page's rows in the whole list.
func (p Page[T]) First() int64 {
	if len(p.Items) == 0 {
		return 0
	}
	return int64(p.Offset() + 1)
}

func (p Page[T]) Last() int64 { return int64(p.Offset() + len(p.Items)) }

// LikePattern turns what a person typed into a case-insensitive substring
// pattern, with LIKE's wildcards taken literally.
func LikePattern(q string) string {
	q = strings.ToLower(strings.TrimSpace(q))
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}
