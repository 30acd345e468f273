package notify

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
)

// Store is the persistence notifications need.
type Store interface {
	// Schedule writes, in one set-based statement, the reminder Plan.Due on today for every
	// current renewable earned certification whose cycle has no reminder of that or a later
	// sequence yet, and returns how many it wrote. Safe to run concurrently (a pass that
	// finds another one running may skip and write nothing).
	Schedule(ctx context.Context, now time.Time, today date.Date, plan Plan) (int, error)
	// ClaimDue leases one unsent, uncancelled notification due at now, one no other sender is
	// claiming at that moment, until now + lease: in one committed transaction, after which
	// the row is not due for anyone until the lease ends, whatever happens to this sender's
	// database session; nil when none is due. No transaction stays open.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (Claim, error)
	// ClaimVerification is ClaimDue for the verification emails of contact email changes.
	ClaimVerification(ctx context.Context, now time.Time, lease time.Duration) (VerificationClaim, error)
	// NotificationsByProfile lists a profile's notifications (not cancelled), newest first,
	// after the cursor; it reports whether more follow.
	NotificationsByProfile(ctx context.Context, profileID uuid.UUID, after *Cursor, limit int) ([]Notification, bool, error)
	// CountNotificationsByProfile counts what NotificationsByProfile lists.
	CountNotificationsByProfile(ctx context.Context, profileID uuid.UUID) (int, error)
	// NotificationsByIDs loads notifications in key order, NOT_FOUND for missing ones.
	NotificationsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Notification, []error)
}

// Cursor is the keyset position of a notification in a profile's list (newest first).
type Cursor struct {
	ScheduledFor time.Time
	ID           uuid.UUID
}

// Service implements what the API reads about notifications.
type Service struct {
	store Store
	clock clock.Clock
}

// NewService returns a Service on store.
func NewService(store Store, clk clock.Clock) *Service { return &Service{store: store, clock: clk} }

// ForProfile lists the notifications of prof for p, newest first: its owner or support.
// Codes: UNAUTHENTICATED, NOT_FOUND (someone else's profile).
func (s *Service) ForProfile(ctx context.Context, p *auth.Principal, prof *certprofile.Profile, after *Cursor, limit int) ([]Notification, bool, error) {
	if err := canView(p, prof); err != nil {
		return nil, false, err
	}
	return s.store.NotificationsByProfile(ctx, prof.ID, after, limit)
}

// CountForProfile counts what ForProfile lists. Codes: UNAUTHENTICATED, NOT_FOUND.
func (s *Service) CountForProfile(ctx context.Context, p *auth.Principal, prof *certprofile.Profile) (int, error) {
	if err := canView(p, prof); err != nil {
		return 0, err
	}
	return s.store.CountNotificationsByProfile(ctx, prof.ID)
}

// NotificationsByIDs loads notifications by id in key order, for loaders; the caller checks
// who may see them (through their profile). Codes: NOT_FOUND per missing id.
func (s *Service) NotificationsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Notification, []error) {
	return s.store.NotificationsByIDs(ctx, ids)
}

func canView(p *auth.Principal, prof *certprofile.Profile) error {
	if p == nil {
		return apperr.Unauth("sign in to see notifications")
	}
	if !certprofile.CanView(p, prof) {
		return apperr.Missing("certification profile")
	}
	return nil
}
