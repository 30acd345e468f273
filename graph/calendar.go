package graph

import (
	"context"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/certprofile"
)

// CalendarFeeds is the resolver for the calendarFeeds field.
func (r *certificationProfileResolver) CalendarFeeds(ctx context.Context, prof *certprofile.Profile) ([]*calendar.Feed, error) {
	if err := calendar.CanManage(auth.PrincipalFrom(ctx), prof); err != nil {
		return nil, err
	}
	list, err := loaders(ctx).CalendarFeeds.Load(ctx, prof.ID)
	return ptrs(list), err
}

// CreateCalendarFeed is the resolver for the createCalendarFeed field.
func (r *mutationResolver) CreateCalendarFeed(ctx context.Context, in model.CreateCalendarFeedInput) (*model.CreateCalendarFeedPayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	f, err := r.Calendar.Create(ctx, auth.PrincipalFrom(ctx), id, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	return &model.CreateCalendarFeedPayload{CalendarFeed: &f}, nil
}

// RevokeCalendarFeed is the resolver for the revokeCalendarFeed field.
func (r *mutationResolver) RevokeCalendarFeed(ctx context.Context, in model.RevokeCalendarFeedInput) (*model.RevokeCalendarFeedPayload, error) {
	id, err := decodeID(in.CalendarFeedID, kindCalendarFeed)
	if err != nil {
		return nil, err
	}
	f, err := r.Calendar.Revoke(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &model.RevokeCalendarFeedPayload{CalendarFeed: &f}, nil
}
