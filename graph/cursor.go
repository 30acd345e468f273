package graph

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/querylimits"
)

// defaultPage is the page size when `first` is omitted; maxPage caps it (docs/api.md "Pagination").
const (
	defaultPage = querylimits.DefaultPage
	maxPage     = querylimits.MaxPage
)

// The lists the resolvers cut to the bounds the cost model prices (querylimits).
const (
	ListedRenewals = querylimits.ListedRenewals
	ListedAttempts = querylimits.ListedAttempts
	ListedEarned   = querylimits.ListedEarned
)

// pageSize validates `first`: 1..100, default 20. It runs before `first` reaches any query or
// cost arithmetic. Codes: BAD_USER_INPUT.
func pageSize(first *int) (int, error) {
	if first == nil {
		return defaultPage, nil
	}
	if *first < 1 || *first > maxPage {
		return 0, apperr.Invalid("first must be between 1 and %d", maxPage)
	}
	return *first, nil
}

// newPageInfo starts the PageInfo of a forward page: hasPreviousPage is true when the page
// was asked for after a cursor (edges came before it), as the Relay spec allows for
// first/after paging; addCursor fills the start and end cursors edge by edge.
func newPageInfo(more bool, after *string) *model.PageInfo {
	return &model.PageInfo{HasNextPage: more, HasPreviousPage: after != nil && *after != ""}
}

// addCursor records the cursor of the next edge of a page in its PageInfo.
func addCursor(pi *model.PageInfo, cursor string) {
	if pi.StartCursor == nil {
		pi.StartCursor = &cursor
	}
	pi.EndCursor = &cursor
}

// encodeCursor makes an opaque Relay cursor from the keyset values of a row.
func encodeCursor(keys ...string) string {
	b, _ := json.Marshal(keys)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor, expecting n keys; nil gives nil.
// Codes: BAD_USER_INPUT.
func decodeCursor(after *string, n int) ([]string, error) {
	if after == nil || *after == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*after)
	if err != nil {
		return nil, apperr.Invalid("malformed cursor")
	}
	var keys []string
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) != n {
		return nil, apperr.Invalid("malformed cursor")
	}
	for _, k := range keys {
		// A cursor is opaque but not trusted: its keys reach SQL, which cannot hold these.
		if !querylimits.StorableText(k) {
			return nil, apperr.Invalid("malformed cursor")
		}
	}
	return keys, nil
}

// keysetCursor decodes a (position, id) cursor of encodeCursor; no cursor gives ok false.
// Codes: BAD_USER_INPUT.
func keysetCursor[T any](after *string, parse func(string) (T, error)) (ok bool, pos T, id uuid.UUID, err error) {
	cur, err := decodeCursor(after, 2)
	if err != nil || cur == nil {
		return false, pos, id, err
	}
	pos, err1 := parse(cur[0])
	id, err2 := uuid.Parse(cur[1])
	if err1 != nil || err2 != nil {
		return false, pos, id, apperr.Invalid("malformed cursor")
	}
	return true, pos, id, nil
}

// parseInstant reads the instant of a cursor.
func parseInstant(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// connection builds the edges, nodes and page info of a connection from one page of items
// (already cut to the page size): node picks the node of an item, cursor its cursor, edge
// wraps both. Every list field with edges and nodes goes through here.
func connection[T, N, E any](items []T, more bool, after *string, node func(*T) *N, cursor func(*T) string,
	edge func(string, *N) E) ([]E, []*N, *model.PageInfo) {
	edges, nodes := make([]E, len(items)), make([]*N, len(items))
	info := newPageInfo(more, after)
	for i := range items {
		c := cursor(&items[i])
		nodes[i] = node(&items[i])
		edges[i] = edge(c, nodes[i])
		addCursor(info, c)
	}
	return edges, nodes, info
}

// self is connection's node for lists whose items are the nodes.
func self[T any](t *T) *T { return t }
