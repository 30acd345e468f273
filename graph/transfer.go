package graph

import (
	"context"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/auth"
)

func (r *Resolver) startProfileTransfer(ctx context.Context, in model.StartCertificationProfileTransferInput) (*model.StartCertificationProfileTransferPayload, error) {
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

func (r *Resolver) completeProfileTransfer(ctx context.Context, in model.CompleteCertificationProfileTransferInput) (*model.CompleteCertificationProfileTransferPayload, error) {
	p, err := r.Profiles.CompleteTransfer(ctx, auth.PrincipalFrom(ctx), in.Code)
	if err != nil {
		return nil, err
	}
	forgetLinks(ctx)
	return &model.CompleteCertificationProfileTransferPayload{CertificationProfile: changedProfile(ctx, p)}, nil
}
