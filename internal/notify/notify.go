// Package notify schedules renewal reminder emails, keeps them in an outbox and delivers
// them (docs/domain.md "Notifications").
//
// The pieces:
//   - Plan (schedule.go): the pure rule of when a cycle's reminders are due, from REMINDER_OFFSETS.
//   - Outbox (outbox.go): the scheduler, one set-based INSERT ... SELECT per pass that writes the
//     latest due reminder of every cycle as a row, and the sender, which leases a due row in a
//     committed transaction (FOR UPDATE SKIP LOCKED), mails it with no transaction open and
//     records the outcome in a transaction of its own.
//   - Service (service.go): what the API reads (CertificationProfile.notifications, node(id)).
//   - templates/: the emails, per language.
package notify

import (
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/date"
)

// Kind is what a notification announces.
type Kind string

// The notification kinds.
const (
	KindWindowOpen Kind = "RENEWAL_WINDOW_OPEN"
	KindReminder   Kind = "RENEWAL_REMINDER"
)

// CancelReason says why a queued notification was never sent.
type CancelReason string

// The reasons a queued notification is cancelled instead of sent.
const (
	// CancelRenewed: the certification was renewed, so the reminder's cycle is over.
	CancelRenewed CancelReason = "RENEWED"
	// CancelExpired: the cycle's expiry date passed before the reminder could be delivered.
	CancelExpired CancelReason = "EXPIRED"
	// CancelSuperseded: a merge marked the earned certification SUPERSEDED.
	CancelSuperseded CancelReason = "SUPERSEDED"
	// CancelReplaced: a later reminder of the same cycle was queued while this one waited
	// (mail was down), and only the latest is worth sending.
	CancelReplaced CancelReason = "REPLACED"
	// CancelRetired: the certification was retired before the reminder could be delivered
	// (issue 13: a retired certification gets no reminders and cannot be renewed).
	CancelRetired CancelReason = "RETIRED"
)

// Notification is one reminder of the outbox: the cycle is keyed by the expiry date it
// reminds of (CycleExpiresOn), so a renewal, which moves the expiry, starts a new cycle.
type Notification struct {
	ID       uuid.UUID
	EarnedID uuid.UUID
	// ProfileID is the certification profile the earned certification belongs to now (it
	// follows merges); filled on reads.
	ProfileID      uuid.UUID
	CycleExpiresOn date.Date
	Sequence       int
	Kind           Kind
	Email          string
	Language       *string
	ScheduledFor   time.Time
	CreatedAt      time.Time
	SentAt         *time.Time
	Attempts       int
	NextAttemptAt  time.Time
	LastError      *string
	CancelledAt    *time.Time
	CancelReason   *CancelReason
}

// DeliveryStatus is where a notification's delivery stands in the outbox
// (Notification.deliveryStatus).
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "PENDING"
	DeliverySent      DeliveryStatus = "SENT"
	DeliveryFailed    DeliveryStatus = "FAILED"
	DeliveryCancelled DeliveryStatus = "CANCELLED"
)

// DeliveryStatus derives the status from the outbox columns: sent (sent_at), cancelled
// (cancelled_at; the two never both hold, migration 0012), failed when the last try recorded
// an error (MarkFailed: it is retried with backoff until the cycle ends), pending otherwise.
func (n *Notification) DeliveryStatus() DeliveryStatus {
	switch {
	case n.SentAt != nil:
		return DeliverySent
	case n.CancelledAt != nil:
		return DeliveryCancelled
	case n.Attempts > 0 && n.LastError != nil:
		return DeliveryFailed
	}
	return DeliveryPending
}
