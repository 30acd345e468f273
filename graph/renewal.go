package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
)

// renewalLoaders batch the renewal lookups of one request.
type renewalLoaders struct{}

func newRenewalLoaders(r *Resolver) *renewalLoaders { return &renewalLoaders{} }

// renewalNode resolves the ids of renewal objects the caller may see.
func (r *Resolver) renewalNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	return nil, apperr.Missing("object")
}
