// Package renewal holds the renewal window, eligibility, assessment attempts, scoring and
// renewals (docs/domain.md "Renewal").
package renewal

import (
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

// Attempt is one renewal assessment attempt. It fixes the version, language and questions.
// CycleExpiresOn is the earned certification's expiry when the attempt started: attempts with
// the same CycleExpiresOn belong to one renewal cycle (the retake count restarts each cycle).
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

// InProgress reports whether the attempt has not been submitted yet.
func (a *Attempt) InProgress() bool { return a.SubmittedAt == nil }

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
	Eligible bool
	// Reason is the code starting a renewal would fail with now (nil when eligible).
	Reason *string
	// WindowOpensOn is the first day of the current cycle's window (nil when not renewable).
	WindowOpensOn *date.Date
	// Deadline is the current expiry: the assessment must be passed before it.
	Deadline *date.Date
	// AttemptsThisCycle counts the attempts started in the current cycle.
	AttemptsThisCycle int
	// NextAttemptAt is when the 24-hour retake wait ends, while it is running.
	NextAttemptAt *time.Time
	// RetiredOn is the certification's retirement date, when it has one: from the day after,
	// it cannot be renewed (issue 13).
	RetiredOn *date.Date
	// DeadlineAt is the last instant a submission is accepted (see DeadlineAt): the zero time
	// when the record can never be renewed (Deadline is nil).
	DeadlineAt time.Time
	// NextAction is what to do next, from Reason (NextActionOf).
	NextAction NextAction
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

// Served is the server's record of one question served to an attempt: which question, and
// the order its choices were shown in.
type Served struct {
	QuestionID  uuid.UUID
	ChoiceOrder []uuid.UUID
}

// Key is the server-side answer key of one served question. It never leaves the server.
type Key struct {
	QuestionID uuid.UUID
	Choices    []uuid.UUID // as served
	Correct    []uuid.UUID // the choices that must all, and only, be selected
}

// Answer is what a learner selected for one question.
type Answer struct {
	QuestionID uuid.UUID
	ChoiceIDs  []uuid.UUID
}

// Holding is an earned certification with what the rules need to know about who holds it.
type Holding struct {
	Earned transcript.Earned
	// OwnerAccountID is the account owning the certification profile holding Earned.
	OwnerAccountID uuid.UUID
	// Linked reports whether that profile is connected to a Learn profile.
	Linked bool
}

// Facts is everything the eligibility rules look at for one earned certification.
type Facts struct {
	Earned        transcript.Earned
	Certification catalog.Certification
	// Assessment is the current version of the certification's renewal assessment, nil if none.
	Assessment *catalog.Assessment
	// Linked reports whether the holding profile is connected to a Learn profile.
	Linked bool
	// Attempts are all attempts of the earned certification, in any order.
	Attempts []Attempt
}
