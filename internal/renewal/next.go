package renewal

import (
	"time"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

// NextAction is what the holder of an earned certification should do next about its renewal
// (RenewalStatus.nextAction). It follows from the reason Check gives, so it never disagrees
// with RenewalStatus.eligible and reason.
type NextAction string

// The next actions.
const (
	// NextConnectProfile: connect the certification profile to a Learn profile (PROFILE_NOT_LINKED).
	NextConnectProfile NextAction = "CONNECT_PROFILE"
	// NextWaitForWindow: the renewal window has not opened, or the assessment is not available
	// yet (RENEWAL_WINDOW_NOT_OPEN, RENEWAL_NOT_AVAILABLE_YET before the expiry).
	NextWaitForWindow NextAction = "WAIT_FOR_WINDOW"
	// NextStartAssessment: eligible, start the renewal assessment.
	NextStartAssessment NextAction = "START_ASSESSMENT"
	// NextResumeAttempt: an attempt is in progress (ATTEMPT_IN_PROGRESS).
	NextResumeAttempt NextAction = "RESUME_ATTEMPT"
	// NextWaitForRetake: the 24-hour retake wait runs (RETAKE_WAIT).
	NextWaitForRetake NextAction = "WAIT_FOR_RETAKE"
	// NextReEarnByExam: the certification expired; only passing its exams again earns it
	// (CERTIFICATION_EXPIRED, and RENEWAL_NOT_AVAILABLE_YET once expired).
	NextReEarnByExam NextAction = "RE_EARN_BY_EXAM"
	// NextNone: there is nothing to renew (NOT_RENEWABLE: fundamentals, no assessment,
	// superseded, retired).
	NextNone NextAction = "NONE"
)

// NextActionOf is the next action for a status whose Check reason is reason (nil when
// eligible); expired tells whether the record's expiry date has been reached, which decides
// RENEWAL_NOT_AVAILABLE_YET (checked before the expiry, so it can hide it). A reason Check
// cannot give for a status (LANGUAGE_NOT_AVAILABLE needs a language) is NONE.
func NextActionOf(reason *string, expired bool) NextAction {
	if reason == nil {
		return NextStartAssessment
	}
	switch apperr.Code(*reason) {
	case apperr.ProfileNotLinked:
		return NextConnectProfile
	case apperr.RenewalWindowNotOpen:
		return NextWaitForWindow
	case apperr.RenewalNotAvailableYet:
		if expired {
			return NextReEarnByExam
		}
		return NextWaitForWindow
	case apperr.CertificationExpired:
		return NextReEarnByExam
	case apperr.AttemptInProgress:
		return NextResumeAttempt
	case apperr.RetakeWait:
		return NextWaitForRetake
	}
	return NextNone
}

// DeadlineAt is the last instant a submission of f's current cycle is accepted (Renewable
// refuses every later one): "today" is the UTC date of the instant (docs/domain.md "Time"),
// a submission on or after the expiry date is CERTIFICATION_EXPIRED and one after the
// retirement date is NOT_RENEWABLE, so it is one nanosecond before 00:00 UTC of the earlier
// of expiresOn and the day after retiredOn. ok is false when no submission is ever accepted
// by the dates alone (no expiry date).
func DeadlineAt(f Facts) (at time.Time, ok bool) {
	if f.Earned.ExpiresOn == nil {
		return time.Time{}, false
	}
	end := *f.Earned.ExpiresOn
	if r := f.Certification.RetiredOn; r != nil && r.AddDays(1).Before(end) {
		end = r.AddDays(1)
	}
	return end.Time().Add(-time.Nanosecond), true
}

// expiredOn reports whether e has reached its expiry date on today.
func expiredOn(e *transcript.Earned, today date.Date) bool {
	return e.ExpiresOn != nil && !today.Before(*e.ExpiresOn)
}
