// Package scalar holds GraphQL scalar marshalers for types that domain packages use.
package scalar

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
)

// nodeTypes holds the names of the schema's Node types (SetNodeTypes).
var nodeTypes atomic.Pointer[map[string]bool]

// SetNodeTypes names the object types whose `id` is an opaque Node id. The graph package sets
// it from its schema.
func SetNodeTypes(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	nodeTypes.Store(&m)
}

// NodeID builds the opaque id of a Node: base64url of "Type:uuid". Clients must treat it as
// opaque; the type inside lets node(id) dispatch without a lookup table.
func NodeID(typ string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + id.String()))
}

// MarshalUUID writes a uuid as a GraphQL ID. The `id` of a Node type is written as its opaque
// NodeID, built from the type the field belongs to: domain types bind `id` straight to their
// uuid field (resolved inline, no resolver), and no Node can leak a raw uuid. Ids of other
// objects (served questions and choices) are the plain uuid.
func MarshalUUID(u uuid.UUID) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(ctx context.Context, w io.Writer) error {
		s := u.String()
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil && fc.Field.Name == "id" {
			if m := nodeTypes.Load(); m != nil && (*m)[fc.Object] {
				s = NodeID(fc.Object, u)
			}
		}
		_, err := io.WriteString(w, strconv.Quote(s))
		return err
	})
}

// UnmarshalUUID reads a GraphQL ID holding a uuid.
func UnmarshalUUID(_ context.Context, v any) (uuid.UUID, error) {
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
