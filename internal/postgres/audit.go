package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/audit"
)

type auditEventRow struct {
	ID         uuid.UUID `db:"id"`
	Action     string    `db:"action"`
	Actor      string    `db:"actor"`
	Reason     *string   `db:"reason"`
	Ticket     *string   `db:"ticket"`
	Details    string    `db:"details"`
	OccurredAt time.Time `db:"occurred_at"`
}

func (r auditEventRow) domain() audit.Event {
	return audit.Event{ID: r.ID, Action: r.Action, Actor: r.Actor, Reason: r.Reason, Ticket: r.Ticket,
		Details: r.Details, OccurredAt: r.OccurredAt.UTC()}
}

const auditEventColumns = `e.id, e.action, e.actor, e.reason, e.ticket, e.details::text AS details, e.occurred_at`

// InsertAudit is the only writer of the audit trail (link and unlink, catalog changes,
// assessment publishing, merges): it stores ev and links it to those of ev.ProfileIDs that
// exist, inside the caller's transaction. An event without details stores {}.
func (s *Store) InsertAudit(ctx context.Context, ev audit.Event) (audit.Event, error) {
	details := ev.Details
	if details == "" {
		details = "{}"
	}
	var r auditEventRow
	if err := s.get(ctx, &r, `INSERT INTO audit_events AS e (action, actor, reason, ticket, details, occurred_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING `+auditEventColumns,
		ev.Action, ev.Actor, ev.Reason, ev.Ticket, details, ev.OccurredAt); err != nil {
		return audit.Event{}, fmt.Errorf("insert audit event: %w", err)
	}
	if len(ev.ProfileIDs) > 0 {
		if _, err := s.exec(ctx, `INSERT INTO audit_event_profiles (event_id, profile_id)
SELECT $1, p.id FROM certification_profiles p WHERE p.id = ANY($2)`, r.ID, pq.Array(ev.ProfileIDs)); err != nil {
			return audit.Event{}, fmt.Errorf("insert audit event profiles: %w", err)
		}
	}
	out := r.domain()
	out.ProfileIDs = ev.ProfileIDs
	return out, nil
}
