// Package audit is the one audit trail of Recert: linking and unlinking, catalog changes,
// assessment publishing, merges and the admin webhook mutations each record an Event, stored by one store method
// (postgres.Store.InsertAudit) in the transaction of the change itself.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event records who did what, when and why, and which certification profiles it concerns.
type Event struct {
	// ID is assigned when the event is stored.
	ID     uuid.UUID
	Action string
	// Actor is the identity of the principal who acted (auth.Principal.Identity).
	Actor  string
	Reason *string
	Ticket *string
	// Details is what the event changed, as JSON text.
	Details    string
	OccurredAt time.Time
	// ProfileIDs are the certification profiles the event concerns (none for catalog
	// changes); support reads a profile's events through them. Ids of profiles that do not
	// exist (a refused merge may name one) are not linked.
	ProfileIDs []uuid.UUID
}

// Store stores events.
type Store interface {
	// InsertAudit stores ev and links it to its profiles; it returns ev with its ID.
	InsertAudit(ctx context.Context, ev Event) (Event, error)
}

// New returns the event of action by actor at now, with details encoded as JSON.
func New(action, actor string, details any, now time.Time, profileIDs ...uuid.UUID) (Event, error) {
	b, err := json.Marshal(details)
	if err != nil {
		return Event{}, fmt.Errorf("audit details of %s: %w", action, err)
	}
	return Event{Action: action, Actor: actor, Details: string(b), OccurredAt: now, ProfileIDs: profileIDs}, nil
}
