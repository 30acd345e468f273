// Package transcript holds exam results, earned certifications, the earning rules and an
// earned certification's status on a date (docs/domain.md "Earned certifications"), and
// transcript shares.
package transcript

import (
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/date"
)

// ExamResult is one exam taken by a profile, as reported by exam delivery.
type ExamResult struct {
	ID         uuid.UUID
	ProfileID  uuid.UUID
	ExamCode   string
	Passed     bool
	Score      *int
	TakenAt    time.Time
	Language   *string
	ExternalID string
	RecordedAt time.Time
}

// Status is an earned certification's status at a moment.
type Status string

// The earned certification statuses.
const (
	StatusActive     Status = "ACTIVE"
	StatusRenewable  Status = "RENEWABLE"
	StatusExpired    Status = "EXPIRED"
	StatusSuperseded Status = "SUPERSEDED"
)

// Earned is a certification earned by a profile. ExpiresOn is nil for fundamentals.
type Earned struct {
	ID              uuid.UUID
	ProfileID       uuid.UUID
	CertificationID uuid.UUID
	EarnedOn        date.Date
	ExpiresOn       *date.Date
	SupersededAt    *time.Time
	SupersededBy    *uuid.UUID
	CreatedAt       time.Time
}

// Share is a transcript share code created by a profile's owner for employers.
type Share struct {
	ID        uuid.UUID
	ProfileID uuid.UUID
	Code      string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
	ViewCount int
}

// Public is the transcript an employer sees: never the email, attempts or notifications.
type Public struct {
	LegalName      string
	MCID           string
	Certifications []Earned
	ExamResults    []ExamResult
}
