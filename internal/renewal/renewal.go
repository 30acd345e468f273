// Package renewal holds the renewal window, eligibility, assessment attempts, scoring and
// renewals (DOMAIN.md "Renewal").
package renewal

import (
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/date"
)

// Attempt is one renewal assessment attempt. It fixes the version, language and questions.
type Attempt struct {
	ID             uuid.UUID
	EarnedID       uuid.UUID
	VersionID      uuid.UUID
	Version        int
	Language       string
	CycleExpiresOn date.Date
	StartedAt      time.Time
	SubmittedAt    *time.Time
	Score          *int
	Passed         *bool
}

// Renewal records a passed assessment extending an earned certification by one year.
type Renewal struct {
	ID                uuid.UUID
	EarnedID          uuid.UUID
	AttemptID         uuid.UUID
	RenewedAt         time.Time
	PreviousExpiresOn date.Date
	NewExpiresOn      date.Date
}

// Status says whether an earned certification can be renewed now and, if not, why.
type Status struct {
	Eligible          bool
	Reason            *string
	WindowOpensOn     *date.Date
	Deadline          *date.Date
	AttemptsThisCycle int
	NextAttemptAt     *time.Time
}

// ServedQuestion is a question as an attempt serves it: no correct flags.
type ServedQuestion struct {
	ID              uuid.UUID
	Prompt          string
	MultipleAnswers bool
	Choices         []ServedChoice
}

// ServedChoice is a choice as served to the learner.
type ServedChoice struct {
	ID   uuid.UUID
	Text string
}
