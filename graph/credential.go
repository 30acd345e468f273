package graph

import (
	"context"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/renewal"
)

// credentialSubject gathers, through loaders (so a page costs a constant number of
// statements), what the credential of v states; withIndex also allocates or reads its status
// list index, which the domain gives the holder only (credential.MayHold).
func (r *Resolver) credentialSubject(ctx context.Context, v *renewal.EarnedView, withIndex bool) (credential.Subject, error) {
	l := loaders(ctx)
	prof, err := l.Profiles.Profile.Load(ctx, v.ProfileID)
	if err != nil {
		return credential.Subject{}, err
	}
	sub := credential.Subject{Earned: v.Earned, Owner: prof.AccountID, MCID: prof.MCID}
	if withIndex && v.SupersededAt == nil {
		if sub.StatusIndex, err = l.StatusIndex.Load(ctx, credential.Held{EarnedID: v.ID, Owner: prof.AccountID}); err != nil {
			return sub, err
		}
	}
	cert, err := v.Certification()
	if !v.HasCertification() {
		cert, err = l.Certification.Load(ctx, v.CertificationID)
	}
	if err != nil {
		return sub, err
	}
	sub.Certification = *cert
	if withIndex {
		if sub.Paths, err = l.Paths.Load(ctx, v.CertificationID); err != nil {
			return sub, err
		}
	}
	return sub, nil
}

// OpenBadgeCredential is the resolver for the openBadgeCredential field.
func (r *earnedCertificationResolver) OpenBadgeCredential(ctx context.Context, v *renewal.EarnedView) (*string, error) {
	sub, err := r.credentialSubject(ctx, v, true)
	if err != nil {
		return nil, err
	}
	return r.Credentials.Issue(auth.PrincipalFrom(ctx), sub)
}

// LinkedInAddToProfileURL is the resolver for the linkedInAddToProfileUrl field.
func (r *earnedCertificationResolver) LinkedInAddToProfileURL(ctx context.Context, v *renewal.EarnedView) (*string, error) {
	sub, err := r.credentialSubject(ctx, v, false)
	if err != nil {
		return nil, err
	}
	return r.Credentials.LinkedInURL(auth.PrincipalFrom(ctx), sub)
}
