package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
)

// nodeOf resolves the ids of the domain objects that need a permission check. Each domain
// adds its kinds here as it lands.
func (r *Resolver) nodeOf(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	switch k {
	default:
		return nil, apperr.Missing("object")
	}
}
