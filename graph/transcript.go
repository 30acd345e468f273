package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
)

// transcriptLoaders batch the transcript lookups of one request.
type transcriptLoaders struct{}

func newTranscriptLoaders(r *Resolver) *transcriptLoaders { return &transcriptLoaders{} }

// transcriptNode resolves the ids of transcript objects the caller may see.
func (r *Resolver) transcriptNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	return nil, apperr.Missing("object")
}
