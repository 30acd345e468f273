// Package scalar holds GraphQL scalar marshalers for types that domain packages use.
package scalar

import (
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// MarshalUUID writes a uuid as a GraphQL ID. Used only for ids of non-Node objects (served
// questions and choices); Node ids are opaque and built in graph/ids.go.
func MarshalUUID(u uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(u.String())) })
}

// UnmarshalUUID reads a GraphQL ID holding a uuid.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, fmt.Errorf("id must be a string")
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("malformed id")
	}
	return u, nil
}
