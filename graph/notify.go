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
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/renewal"
)

// notifyLoaders batch the notify lookups of one request.
type notifyLoaders struct {
	Notification *dataloadgen.Loader[uuid.UUID, *notify.Notification]
}

func newNotifyLoaders(r *Resolver) *notifyLoaders {
	w := r.loaderWait()
	return &notifyLoaders{
		Notification: dataloadgen.NewLoader(r.Notify.NotificationsByIDs, w),
	}
}

// Notifications is CertificationProfile.notifications: newest first, for the owner or support.
func (r *certificationProfileResolver) Notifications(ctx context.Context, prof *certprofile.Profile, first *int, after *string) (*model.NotificationConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	ok, at, id, err := keysetCursor(after, parseInstant)
	if err != nil {
		return nil, err
	}
	var cur *notify.Cursor
	if ok {
		cur = &notify.Cursor{ScheduledFor: at, ID: id}
	}
	p := auth.PrincipalFrom(ctx)
	items, more, err := r.Notify.ForProfile(ctx, p, prof, cur, n)
	if err != nil {
		return nil, err
	}
	conn := &model.NotificationConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(items, more, after, self,
		func(it *notify.Notification) string {
			return encodeCursor(it.ScheduledFor.Format(time.RFC3339Nano), it.ID.String())
		},
		func(cur string, it *notify.Notification) *model.NotificationEdge {
			return &model.NotificationEdge{Cursor: cur, Node: it}
		})
	if wantsField(ctx, "totalCount") {
		if conn.TotalCount, err = r.Notify.CountForProfile(ctx, p, prof); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// EarnedCertification is the resolver for the earnedCertification field.
func (r *notificationResolver) EarnedCertification(ctx context.Context, n *notify.Notification) (*renewal.EarnedView, error) {
	return r.earnedView(ctx, n.EarnedID)
}

// notifyNode resolves a Notification id for whoever may see the profile its earned
// certification belongs to now: the owner or support.
func (r *Resolver) notifyNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	if k != kindNotification {
		return nil, apperr.Missing("object")
	}
	n, err := loaders(ctx).Notify.Notification.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := r.profileNode(ctx, n.ProfileID); err != nil {
		return nil, err
	}
	return n, nil
}
