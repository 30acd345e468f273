package graph

import (
	"context"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
)

// profileLoaders batch the certification profile lookups of one request.
type profileLoaders struct {
	Profile *dataloadgen.Loader[uuid.UUID, *certprofile.Profile]
}

func newProfileLoaders(r *Resolver) *profileLoaders {
	w := dataloadgen.WithWait(loaderWait)
	return &profileLoaders{
		Profile: dataloadgen.NewLoader(r.Profiles.ProfilesByIDs, w),
	}
}

func (r *Resolver) createCertificationProfile(ctx context.Context, in model.CreateCertificationProfileInput) (*model.CreateCertificationProfilePayload, error) {
	p, err := r.Profiles.Create(ctx, auth.PrincipalFrom(ctx), certprofile.NewProfile{
		LegalName: in.LegalName, Email: in.Email, PreferredLanguage: in.PreferredLanguage,
	})
	if err != nil {
		return nil, err
	}
	return &model.CreateCertificationProfilePayload{CertificationProfile: &p}, nil
}

func (r *Resolver) certificationProfile(ctx context.Context, mcid string) (*certprofile.Profile, error) {
	p, err := r.Profiles.ByMCID(ctx, auth.PrincipalFrom(ctx), mcid)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func (r *Resolver) viewerProfiles(ctx context.Context) ([]*certprofile.Profile, error) {
	list, err := r.Profiles.Mine(ctx, auth.PrincipalFrom(ctx))
	return ptrs(list), err
}

func (r *Resolver) mergedInto(ctx context.Context, p *certprofile.Profile) (*certprofile.Profile, error) {
	if p.MergedInto == nil {
		return nil, nil
	}
	return loaders(ctx).Profiles.Profile.Load(ctx, *p.MergedInto)
}

// profileNode resolves a CertificationProfile id for its owner or support.
func (r *Resolver) profileNode(ctx context.Context, id uuid.UUID) (*certprofile.Profile, error) {
	p, err := loaders(ctx).Profiles.Profile.Load(ctx, id)
	if err == nil {
		p, err = r.survivorOf(ctx, p) // a merged profile's id resolves to its survivor
	}
	if err != nil {
		return nil, err
	}
	if !certprofile.CanView(auth.PrincipalFrom(ctx), p) {
		return nil, apperr.Missing("certification profile")
	}
	return p, nil
}
