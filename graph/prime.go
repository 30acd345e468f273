package graph

import (
	"context"

	"github.com/recert/recert/internal/learner"
)

// PrimeCaller seeds the request's loaders with the caller's account and Learn profile, which
// authentication has just read, so fields that reach them (a profile's learnProfile on the
// owner's dashboard, for one) cost no further query (issue 8). A context without loaders is
// left alone.
func PrimeCaller(ctx context.Context, a learner.Account, lp learner.LearnProfile) {
	l, _ := ctx.Value(loadersKey{}).(*Loaders)
	if l == nil {
		return
	}
	l.Account.Prime(a.ID, &a)
	l.LearnProfile.Prime(lp.ID, &lp)
}
