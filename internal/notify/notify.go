// Package notify schedules renewal reminder emails, keeps them in an outbox and delivers
// them (DOMAIN.md "Notifications").
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

// Notification is one reminder of the outbox.
type Notification struct {
	ID             uuid.UUID
	EarnedID       uuid.UUID
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
}
