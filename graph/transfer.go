package graph

import (
	"context"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/auth"
)

// StartCertificationProfileTransfer is the resolver for the startCertificationProfileTransfer field.
func (r *mutationResolver) StartCertificationProfileTransfer(ctx context.Context, in model.StartCertificationProfileTransferInput) (*model.StartCertificationProfileTransferPayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	t, err := r.Profiles.StartTransfer(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &model.StartCertificationProfileTransferPayload{
		Transfer: &model.CertificationProfileTransfer{Code: t.Code, ExpiresAt: t.ExpiresAt},
	}, nil
}

// CompleteCertificationProfileTransfer is the resolver for the completeCertificationProfileTransfer field.
func (r *mutationResolver) CompleteCertificationProfileTransfer(ctx context.Context, in model.CompleteCertificationProfileTransferInput) (*model.CompleteCertificationProfileTransferPayload, error) {
	p, err := r.Profiles.CompleteTransfer(ctx, auth.PrincipalFrom(ctx), in.Code)
	if err != nil {
		return nil, err
	}
	forgetLinks(ctx)
	return &model.CompleteCertificationProfileTransferPayload{CertificationProfile: changedProfile(ctx, p)}, nil
}
