package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
)

// notifyLoaders batch the notify lookups of one request.
type notifyLoaders struct{}

func newNotifyLoaders(r *Resolver) *notifyLoaders { return &notifyLoaders{} }

// notifyNode resolves the ids of notify objects the caller may see.
func (r *Resolver) notifyNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	return nil, apperr.Missing("object")
}
