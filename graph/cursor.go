package graph

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/apperr"
)

// defaultPage is the page size when `first` is omitted; maxPage caps it (API.md "Queries").
const (
	defaultPage = 20
	maxPage     = 100
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
		if !storableText(k) {
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
func connection[T, N, E any](items []T, more bool, node func(*T) *N, cursor func(*T) string,
	edge func(string, *N) E) ([]E, []*N, *model.PageInfo) {
	edges, nodes := make([]E, len(items)), make([]*N, len(items))
	info := &model.PageInfo{HasNextPage: more}
	for i := range items {
		c := cursor(&items[i])
		nodes[i] = node(&items[i])
		edges[i] = edge(c, nodes[i])
		info.EndCursor = &c
	}
	return edges, nodes, info
}

// self is connection's node for lists whose items are the nodes.
func self[T any](t *T) *T { return t }
