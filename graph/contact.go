package graph

import (
	"context"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
)

// changedProfile primes the loaders with a profile a mutation just changed, so the payload's
// fields read its new state.
func changedProfile(ctx context.Context, p certprofile.Profile) *certprofile.Profile {
	loaders(ctx).Profiles.Profile.Clear(p.ID)
	loaders(ctx).Profiles.Profile.Prime(p.ID, &p)
	loaders(ctx).Profiles.AlternateEmails.Clear(p.ID)
	return &p
}

// UpdateCertificationProfile is the resolver for the updateCertificationProfile field.
func (r *mutationResolver) UpdateCertificationProfile(ctx context.Context, in model.UpdateCertificationProfileInput) (*model.UpdateCertificationProfilePayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	p, err := r.Profiles.UpdateProfile(ctx, auth.PrincipalFrom(ctx), id, in.PreferredLanguage)
	if err != nil {
		return nil, err
	}
	return &model.UpdateCertificationProfilePayload{CertificationProfile: changedProfile(ctx, p)}, nil
}

// RequestContactEmailChange is the resolver for the requestContactEmailChange field.
func (r *mutationResolver) RequestContactEmailChange(ctx context.Context, in model.RequestContactEmailChangeInput) (*model.RequestContactEmailChangePayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	pe, err := r.Profiles.RequestEmailChange(ctx, auth.PrincipalFrom(ctx), id, in.Email)
	if err != nil {
		return nil, err
	}
	return &model.RequestContactEmailChangePayload{CertificationProfile: changedProfile(ctx, pe.Profile),
		PendingEmail: pe.Email, ExpiresAt: pe.ExpiresAt}, nil
}

// ConfirmContactEmailChange is the resolver for the confirmContactEmailChange field.
func (r *mutationResolver) ConfirmContactEmailChange(ctx context.Context, in model.ConfirmContactEmailChangeInput) (*model.ConfirmContactEmailChangePayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	p, err := r.Profiles.ConfirmEmailChange(ctx, auth.PrincipalFrom(ctx), id, in.Code)
	if err != nil {
		return nil, err
	}
	return &model.ConfirmContactEmailChangePayload{CertificationProfile: changedProfile(ctx, p)}, nil
}

// CorrectLegalName is the resolver for the correctLegalName field.
func (r *mutationResolver) CorrectLegalName(ctx context.Context, in model.CorrectLegalNameInput) (*model.CorrectLegalNamePayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	p, err := r.Profiles.CorrectLegalName(ctx, auth.PrincipalFrom(ctx), id, in.LegalName, in.Reason, in.Ticket)
	if err != nil {
		return nil, err
	}
	return &model.CorrectLegalNamePayload{CertificationProfile: changedProfile(ctx, p)}, nil
}
