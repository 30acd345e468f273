package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
)

// mergeLoaders batch the merge lookups of one request.
type mergeLoaders struct{}

func newMergeLoaders(r *Resolver) *mergeLoaders { return &mergeLoaders{} }

// mergeNode resolves the ids of merge objects the caller may see.
func (r *Resolver) mergeNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	return nil, apperr.Missing("object")
}
