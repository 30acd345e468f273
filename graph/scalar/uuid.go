// Package scalar holds GraphQL scalar marshalers for types that domain packages use.
package scalar

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
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

// isNodeType reports whether typ is one of SetNodeTypes's names.
func isNodeType(typ string) bool {
	m := nodeTypes.Load()
	return m != nil && (*m)[typ]
}

// NodeID builds the opaque id of a Node: base64url of "Type:uuid". Clients must treat it as
// opaque; the type inside lets node(id) dispatch without a lookup table.
func NodeID(typ string, id uuid.UUID) string {
	return string(appendNodeID(nil, typ, id))
}

// appendNodeID appends NodeID(typ, id) to b.
func appendNodeID(b []byte, typ string, id uuid.UUID) []byte {
	var raw [96]byte
	plain := appendUUID(append(append(raw[:0], typ...), ':'), id)
	return base64.RawURLEncoding.AppendEncode(b, plain)
}

// appendUUID appends id in its canonical text form (what id.String() returns) to b.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var text [36]byte
	hex.Encode(text[0:8], id[0:4])
	hex.Encode(text[9:13], id[4:6])
	hex.Encode(text[14:18], id[6:8])
	hex.Encode(text[19:23], id[8:10])
	hex.Encode(text[24:36], id[10:16])
	text[8], text[13], text[18], text[23] = '-', '-', '-', '-'
	return append(b, text[:]...)
}

// MarshalUUID writes a uuid as a GraphQL ID. The `id` of a Node type is written as its opaque
// NodeID, built from the type the field belongs to: domain types bind `id` straight to their
// uuid field (resolved inline, no resolver), and no Node can leak a raw uuid. Ids of other
// objects (served questions and choices) are the plain uuid.
func MarshalUUID(u uuid.UUID) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(ctx context.Context, w io.Writer) error {
		// Written in one buffer: the id is a uuid or base64url, neither of which needs escaping
		// in a JSON string (a page of certifications writes dozens of ids).
		b := make([]byte, 0, 128)
		b = append(b, '"')
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Field.Field != nil && fc.Field.Name == "id" &&
			isNodeType(fc.Object) {
			b = appendNodeID(b, fc.Object, u)
		} else {
			b = appendUUID(b, u)
		}
		_, err := w.Write(append(b, '"'))
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
