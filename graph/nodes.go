package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
)

// nodeOf resolves the ids of the domain objects that need a permission check. Each domain
// adds its kinds here as it lands.
func (r *Resolver) nodeOf(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	switch k {
	case kindProfile:
		return r.profileNode(ctx, id)
	case kindAccount, kindLearnProfile:
		return r.learnerNode(ctx, k, id)
	case kindExamResult, kindEarned, kindShare:
		return r.transcriptNode(ctx, k, id)
	case kindAttempt:
		return r.renewalNode(ctx, k, id)
	case kindAuditEvent:
		return r.mergeNode(ctx, k, id)
	case kindNotification:
		return r.notifyNode(ctx, k, id)
	case kindTeamGrant:
		return r.teamNode(ctx, id)
	case kindCalendarFeed:
		f, err := r.Calendar.Feed(ctx, auth.PrincipalFrom(ctx), id)
		if err != nil {
			return nil, err
		}
		return &f, nil
	default:
		return nil, apperr.Missing("object")
	}
}
