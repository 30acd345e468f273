package graph

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/renewal"
)

// mergeLoaders batch the merge lookups of one request.
type mergeLoaders struct {
	Event *dataloadgen.Loader[uuid.UUID, *merge.AuditEvent]
}

func newMergeLoaders(r *Resolver) *mergeLoaders {
	return &mergeLoaders{
		Event: dataloadgen.NewLoader(r.Merge.AuditEventsByIDs, r.loaderWait()),
	}
}

// mergeNode resolves AuditEvent ids, for support only (anyone else gets null, as for an id
// that does not exist).
func (r *Resolver) mergeNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	if k != kindAuditEvent || !merge.CanReadAudit(auth.PrincipalFrom(ctx)) {
		return nil, apperr.Missing("object")
	}
	return loaders(ctx).Merge.Event.Load(ctx, id)
}

// PreviewCertificationProfileMerge is the resolver for the previewCertificationProfileMerge field.
func (r *mutationResolver) PreviewCertificationProfileMerge(ctx context.Context, in model.PreviewCertificationProfileMergeInput) (*model.PreviewCertificationProfileMergePayload, error) {
	surv, dup, err := decodePair(in.SurvivorID, in.DuplicateID)
	if err != nil {
		return nil, err
	}
	pv, err := r.Merge.PreviewMerge(ctx, auth.PrincipalFrom(ctx), surv, dup)
	if err != nil {
		return nil, err
	}
	pv.Superseded = pv.Superseded[:min(len(pv.Superseded), ListedEarned)] // the bound Cost prices
	return &model.PreviewCertificationProfileMergePayload{Preview: &pv}, nil
}

// MergeCertificationProfiles is the resolver for the mergeCertificationProfiles field.
func (r *mutationResolver) MergeCertificationProfiles(ctx context.Context, in model.MergeCertificationProfilesInput) (*model.MergeCertificationProfilesPayload, error) {
	surv, dup, err := decodePair(in.SurvivorID, in.DuplicateID)
	if err != nil {
		return nil, err
	}
	res, err := r.Merge.Merge(ctx, auth.PrincipalFrom(ctx), merge.Request{
		SurvivorID: surv, DuplicateID: dup, Reason: in.Reason, Ticket: in.Ticket,
		IdempotencyKey: in.IdempotencyKey, KeepLearnProfileOf: in.KeepLearnProfileOf,
	})
	if err != nil {
		return nil, err
	}
	return &model.MergeCertificationProfilesPayload{Survivor: &res.Survivor, Duplicate: &res.Duplicate, AuditEvent: &res.Event}, nil
}

// decodePair decodes the two profile ids of a merge input. Codes: BAD_USER_INPUT, NOT_FOUND.
func decodePair(survivorID, duplicateID string) (surv, dup uuid.UUID, err error) {
	if surv, err = decodeID(survivorID, kindProfile); err != nil {
		return surv, dup, err
	}
	dup, err = decodeID(duplicateID, kindProfile)
	return surv, dup, err
}

// AuditEvents pages the audit events of a profile (and of the profiles merged into it),
// newest first, for support. Codes: FORBIDDEN, BAD_USER_INPUT (first, after).
func (r *certificationProfileResolver) AuditEvents(ctx context.Context, p *certprofile.Profile, first *int, after *string) (*model.AuditEventConnection, error) {
	principal := auth.PrincipalFrom(ctx)
	if !merge.CanReadAudit(principal) {
		return nil, apperr.Deny("only support may read audit events")
	}
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	ok, at, id, err := keysetCursor(after, parseInstant)
	if err != nil {
		return nil, err
	}
	page := merge.Page{Limit: n}
	if ok {
		page.After = &merge.EventCursor{OccurredAt: at, ID: id}
	}
	events, more, err := r.Merge.AuditEvents(ctx, principal, p.ID, page)
	if err != nil {
		return nil, err
	}
	conn := &model.AuditEventConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(events, more, after, self,
		func(e *merge.AuditEvent) string {
			return encodeCursor(e.OccurredAt.Format(time.RFC3339Nano), e.ID.String())
		},
		func(cur string, e *merge.AuditEvent) *model.AuditEventEdge {
			return &model.AuditEventEdge{Cursor: cur, Node: e}
		})
	if wantsField(ctx, "totalCount") {
		if conn.TotalCount, err = r.Merge.CountAuditEvents(ctx, principal, p.ID); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// SupersededCertifications is the resolver for the supersededCertifications field.
func (r *mergePreviewResolver) SupersededCertifications(ctx context.Context, obj *merge.Preview) ([]*renewal.EarnedView, error) {
	return r.earnedViews(ctx, obj.Superseded, "EarnedCertification"), nil
}
