// Package merge previews and performs support merges of duplicate certification profiles,
// with idempotency and audit events (docs/domain.md "Merging").
package merge

import (
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/idem"
	"github.com/recert/recert/internal/transcript"
)

// Side names a side of a merge.
type Side string

// The merge sides.
const (
	SideSurvivor  Side = "SURVIVOR"
	SideDuplicate Side = "DUPLICATE"
)

// The audit actions a merge writes.
const (
	// ActionMerge is a merge that happened.
	ActionMerge = "profile.merge"
	// ActionMergeRefused is a merge support asked for and the rules refused.
	ActionMergeRefused = "profile.merge_refused"
)

// KeyScope is the idempotency_keys scope of merge requests.
const KeyScope = "merge"

// KeyRetention is how long an idempotency key and its stored response are kept: a replay
// within 30 days of the first request returns the stored response; after that the key is
// forgotten (PurgeExpiredKeys deletes it, and an expired key is treated as unused even before
// the purge runs). Chosen to cover any realistic retry of a support tool, with room for a
// ticket to be reopened weeks later.
const KeyRetention = idem.Retention

// AuditEvent is the audit trail's event (audit.Event), by the name the GraphQL binding and
// the merge API use.
type AuditEvent = audit.Event

// Preview is what a merge would do, computed without changing anything.
type Preview struct {
	Survivor             certprofile.Profile
	Duplicate            certprofile.Profile
	MovingCertifications int
	MovingExamResults    int
	MovingAttempts       int
	Superseded           []transcript.Earned
	Conflicts            []string
}

// Request is a merge as support asks for it.
type Request struct {
	SurvivorID  uuid.UUID
	DuplicateID uuid.UUID
	Reason      string
	Ticket      *string
	// IdempotencyKey makes a retried request safe: the same key with the same request
	// returns the first response.
	IdempotencyKey string
	// KeepLearnProfileOf chooses the Learn profile connection to keep when both profiles are
	// connected to different Learn profiles; it is ignored otherwise.
	KeepLearnProfileOf *Side
}

// Result is a merge's outcome: the profiles as they are now and the audit event of the merge.
type Result struct {
	Survivor  certprofile.Profile
	Duplicate certprofile.Profile
	Event     AuditEvent
	// Replayed is true when the result is the stored response of an earlier request with the
	// same idempotency key.
	Replayed bool
}

// StoredResponse is what an idempotency key keeps of a merge: the ids of its result.
type StoredResponse struct {
	SurvivorID   uuid.UUID `json:"survivorId"`
	DuplicateID  uuid.UUID `json:"duplicateId"`
	AuditEventID uuid.UUID `json:"auditEventId"`
}

// Attempt is a renewal assessment attempt in progress on one side of a merge.
type Attempt struct {
	ID              uuid.UUID
	EarnedID        uuid.UUID
	ProfileID       uuid.UUID
	CertificationID uuid.UUID
}

// Moved reports what a merge moved, for its audit event.
type Moved struct {
	EarnedIDs          []uuid.UUID `json:"earnedCertificationIds"`
	ExamResultIDs      []uuid.UUID `json:"examResultIds"`
	TranscriptShareIDs []uuid.UUID `json:"transcriptShareIds"`
	// TeamAccessGrantIDs are the grants moved to the survivor (issue 17's team view); a live
	// grant to a tenant the survivor has granted already is revoked instead (RevokedGrantIDs).
	TeamAccessGrantIDs  []uuid.UUID `json:"teamAccessGrantIds"`
	RevokedGrantIDs     []uuid.UUID `json:"teamAccessGrantsRevoked"`
	Attempts            int         `json:"attempts"`
	Renewals            int         `json:"renewals"`
	Notifications       int         `json:"notifications"`
	NotificationsMailTo int         `json:"pendingNotificationsReaddressed"`
	AlternateEmails     []string    `json:"alternateEmails"`
}

// Page asks for a page of audit events, newest first, after a keyset position.
type Page struct {
	Limit int
	// After is the (occurredAt, id) of the last event of the previous page, or nil.
	After *EventCursor
}

// EventCursor is a keyset position in a newest-first list of audit events.
type EventCursor struct {
	OccurredAt time.Time
	ID         uuid.UUID
}
