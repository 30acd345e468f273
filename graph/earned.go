package graph

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/transcript"
)

// earnedViews is the read model (renewal.EarnedView) of a list of earned certifications, for
// the selection below the current field (of type typ) along paths: see completeViews. Every
// field that returns earned certifications it has as records goes through here.
func (r *Resolver) earnedViews(ctx context.Context, list []transcript.Earned, typ string, paths ...[]hop) []*renewal.EarnedView {
	today := r.Transcripts.Today()
	views := make([]renewal.EarnedView, len(list))
	for i := range list {
		views[i] = renewal.NewEarnedView(list[i], today)
	}
	r.completeViews(ctx, views, typ, paths...)
	return ptrs(views)
}

// earnedView is earnedViews for a field that returns the earned certification id.
func (r *Resolver) earnedView(ctx context.Context, id uuid.UUID) (*renewal.EarnedView, error) {
	e, err := loaders(ctx).Transcript.Earned.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.earnedViews(ctx, []transcript.Earned{*e}, "EarnedCertification")[0], nil
}

// completeViews reads what the selection asks of views and they do not carry yet: the
// certification and the renewal status, one batch per loader, so that these fields are plain
// data (no goroutine, no lookup per item); it also primes the loaders behind the fields that
// stay resolvers (attempts, renewals, a certification's catalog fields), so the statement count
// of a list does not grow with its length. A public transcript reads only what it may show.
// Errors are kept in each view, for its field to report.
func (r *Resolver) completeViews(ctx context.Context, views []renewal.EarnedView, typ string, paths ...[]hop) {
	if len(views) == 0 {
		return
	}
	if len(paths) == 0 {
		paths = [][]hop{nil} // the current field's own selection
	}
	fields := selectedBelow(ctx, typ, paths...)
	if ctx.Value(publicViewKey{}) != nil {
		for f := range fields {
			fields[f] = fields[f] && slices.Contains(publicFields["EarnedCertification"], f)
		}
	}
	list := make([]transcript.Earned, len(views))
	var certIDs []uuid.UUID
	needRenewal := false
	for i := range views {
		list[i] = views[i].Earned
		if fields["certification"] && !views[i].HasCertification() && !slices.Contains(certIDs, views[i].CertificationID) {
			certIDs = append(certIDs, views[i].CertificationID)
		}
		needRenewal = needRenewal || (fields["renewal"] && !views[i].HasRenewal())
	}
	l := loaders(ctx)
	certs := l.Certification.LoadAllThunk(ctx, certIDs)
	primeEarned(ctx, list, typ, paths...)
	primeRenewal(ctx, list, needRenewal, fields, typ, paths...)
	_, _ = certs()
	for i := range views {
		v := &views[i]
		if fields["certification"] && !v.HasCertification() {
			v.SetCertification(l.Certification.Load(ctx, v.CertificationID)) // read above
		}
		if needRenewal && !v.HasRenewal() {
			v.SetRenewal(r.renewalStatus(ctx, &v.Earned)) // its facts read above
		}
	}
}
