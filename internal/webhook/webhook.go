// Package webhook holds signed webhooks (Standard Webhooks 1.0, issue 16 part 3): the event
// types, the endpoints admins register, the deliveries an outbox makes of every event, their
// signature, and the sender that posts them with retries and refuses server-side request
// forgery.
//
// Events are written by the domain services in the transaction of the change that causes them
// (Emitter, implemented by the postgres store): transcript (CERTIFICATION_EARNED), renewal
// (CERTIFICATION_RENEWED), merge (PROFILE_MERGED), certprofile (PROFILE_TRANSFERRED), the
// reminder scheduler (RENEWAL_WINDOW_OPENED) and the expiry pass of this package's Sender
// (CERTIFICATION_EXPIRED).
package webhook

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// EventType is the `type` of a webhook payload, spelled as the schema's WebhookEventType.
type EventType string

// The event types.
const (
	CertificationEarned  EventType = "CERTIFICATION_EARNED"
	CertificationRenewed EventType = "CERTIFICATION_RENEWED"
	RenewalWindowOpened  EventType = "RENEWAL_WINDOW_OPENED"
	CertificationExpired EventType = "CERTIFICATION_EXPIRED"
	ProfileMerged        EventType = "PROFILE_MERGED"
	ProfileTransferred   EventType = "PROFILE_TRANSFERRED"
)

// EventTypes lists every event type.
var EventTypes = []EventType{CertificationEarned, CertificationRenewed, RenewalWindowOpened,
	CertificationExpired, ProfileMerged, ProfileTransferred}

// Valid reports whether t is one of EventTypes.
func (t EventType) Valid() bool {
	for _, k := range EventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Event is one change to announce, as a domain service emits it: the payload's data is read
// from the rows the ids name, in the same transaction, so it shows the change as committed.
type Event struct {
	Type EventType
	// At is the instant of the change (the payload's `timestamp`).
	At time.Time
	// EarnedID names the earned certification of the CERTIFICATION_* and RENEWAL_* events.
	EarnedID uuid.UUID
	// ProfileID names the certification profile of PROFILE_TRANSFERRED and the survivor of
	// PROFILE_MERGED.
	ProfileID uuid.UUID
	// DuplicateID names the merged profile of PROFILE_MERGED.
	DuplicateID uuid.UUID
}

// Certification returns the event t about an earned certification at.
func Certification(t EventType, earnedID uuid.UUID, at time.Time) Event {
	return Event{Type: t, At: at, EarnedID: earnedID}
}

// Merged returns the PROFILE_MERGED event of duplicate merged into survivor at.
func Merged(survivor, duplicate uuid.UUID, at time.Time) Event {
	return Event{Type: ProfileMerged, At: at, ProfileID: survivor, DuplicateID: duplicate}
}

// Transferred returns the PROFILE_TRANSFERRED event of profile moved to another account at.
func Transferred(profile uuid.UUID, at time.Time) Event {
	return Event{Type: ProfileTransferred, At: at, ProfileID: profile}
}

// Emitter writes an event and its deliveries to every enabled endpoint subscribed to its type.
// It must run in the transaction of the change (the domain stores' transaction).
type Emitter interface {
	EmitWebhook(ctx context.Context, ev Event) error
}

// Endpoint is a registered receiver of webhooks.
type Endpoint struct {
	ID          uuid.UUID
	URL         string
	Events      []EventType
	Description *string
	CreatedAt   time.Time
	// DisabledAt is set when deliveries kept failing for MaxRetryAge; DisabledReason says why.
	DisabledAt     *time.Time
	DisabledReason *string
	// PreviousSecretExpiresAt is set after a rotation: the previous secret signs too until
	// then (RotationOverlap).
	PreviousSecretExpiresAt *time.Time
}

// Delivery is one event sent (or to be sent) to one endpoint.
type Delivery struct {
	ID         uuid.UUID
	EndpointID uuid.UUID
	EventID    uuid.UUID
	EventType  EventType
	OccurredAt time.Time
	// ReplayOf is the delivery this one replays, nil for the first delivery.
	ReplayOf      *uuid.UUID
	CreatedAt     time.Time
	Attempts      int
	LastAttemptAt *time.Time
	// LastStatus is the HTTP status of the last attempt, nil when none answered.
	LastStatus    *int
	LastError     *string
	NextAttemptAt *time.Time
	DeliveredAt   *time.Time
	FailedAt      *time.Time
}

// Status is the state of a delivery.
type Status string

// The delivery states.
const (
	StatusPending   Status = "PENDING"
	StatusDelivered Status = "DELIVERED"
	StatusFailed    Status = "FAILED"
)

// Status reports whether d is pending, delivered or given up.
func (d Delivery) Status() Status {
	switch {
	case d.DeliveredAt != nil:
		return StatusDelivered
	case d.FailedAt != nil:
		return StatusFailed
	}
	return StatusPending
}

// Cursor is the keyset position of an endpoint (oldest first) or of a delivery (newest first).
type Cursor struct {
	At time.Time
	ID uuid.UUID
}

// MessageID is the `webhook-id` of d: the event's, so every delivery and replay of one event
// carries the same id and receivers can drop duplicates.
func (d Delivery) MessageID() string { return "msg_" + d.EventID.String() }
