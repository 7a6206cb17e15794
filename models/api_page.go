package models

// APIListRequest is one page of a list the JSON API serves, newest first:
// the rows after the row whose id is After (0 for the first page), at most
// Limit of them. Pages follow ids, not positions, so a row added meanwhile
// neither repeats nor hides another, and a page costs the same however deep
// in the list it is.
type APIListRequest struct {
	After int64
	Limit int
}

// The API's page sizes.
const (
	APIDefaultLimit = 20
	APIMaxLimit     = 100
)

// APIPage is one page of an API list and whether more rows follow it.
type APIPage[T any] struct {
	Items   []T
	HasMore bool
}

// limit is the request's page size, within 1..APIMaxLimit.
func (r APIListRequest) limit() int {
	switch {
	case r.Limit <= 0:
		return APIDefaultLimit
	case r.Limit > APIMaxLimit:
		return APIMaxLimit
	}
	return r.Limit
}

// trimPage reads one row more than the page holds, which tells whether
// more follow, and drops it.
func trimPage[T any](rows []T, limit int) APIPage[T] {
	if len(rows) > limit {
		return APIPage[T]{Items: rows[:limit], HasMore: true}
	}
	return APIPage[T]{Items: rows}
}
