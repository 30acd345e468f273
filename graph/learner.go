package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/querylimits"
)

// Viewer is the resolver for the viewer field.
func (r *queryResolver) Viewer(ctx context.Context) (*model.Viewer, error) {
	a, lp, err := r.Learner.Ensure(ctx, auth.PrincipalFrom(ctx))
	if err != nil {
		return nil, err
	}
	return &model.Viewer{Account: &a, LearnProfile: &lp}, nil
}

// Node resolves any opaque id the caller may see. Objects the caller may not see are
// reported as null, exactly like ids that do not exist, so ids leak nothing.
func (r *queryResolver) Node(ctx context.Context, id string) (node.Node, error) {
	var n node.Node
	k, key, err := decodeKeyID(id)
	if err == nil && k == kindExam {
		if !querylimits.StorableText(key) { // the key reaches SQL in a batch with others' keys
			return nil, apperr.Invalid("malformed id")
		}
		n, err = loaders(ctx).Exam.Load(ctx, key) // the public catalog, keyed by code
		return visibleNode(n, err)
	}
	k, uid, err := decodeAnyID(id)
	if err != nil {
		return nil, err
	}
	switch k {
	case kindCertification:
		n, err = loaders(ctx).Certification.Load(ctx, uid)
	case kindAssessment:
		n, err = loaders(ctx).AssessmentVer.Load(ctx, uid)
	default:
		n, err = r.nodeOf(ctx, k, uid)
	}
	return visibleNode(n, err)
}

// visibleNode gives node(id) its answer: null, not an error, for what does not exist or the
// caller may not see.
func visibleNode(n node.Node, err error) (node.Node, error) {
	if apperr.CodeOf(err) == apperr.NotFound || apperr.CodeOf(err) == apperr.Forbidden {
		return nil, nil
	}
	return n, err
}

// learnerNode resolves Account and LearnProfile ids through the learner readers, which
// answer NOT_FOUND for anyone else's.
func (r *Resolver) learnerNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	if k == kindAccount {
		return loaders(ctx).Account.Load(ctx, id)
	}
	return loaders(ctx).LearnProfile.Load(ctx, id)
}
