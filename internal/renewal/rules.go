package renewal

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

// RetakeWait is how long after the previous submission the third and every later attempt of
// a cycle must wait (docs/domain.md "Attempts").
const RetakeWait = 24 * time.Hour

// FreeAttempts is how many attempts of a cycle may follow each other without a wait: after a
// failed first attempt the second may start at once.
const FreeAttempts = 2

// Check decides whether an attempt may start at now, in the order of the issue (ownership is
// the caller's business and comes before): the conditions of Renewable (NOT_RENEWABLE,
// RENEWAL_NOT_AVAILABLE_YET, CERTIFICATION_EXPIRED, RENEWAL_WINDOW_NOT_OPEN with
// extensions.windowOpensOn, PROFILE_NOT_LINKED), then LANGUAGE_NOT_AVAILABLE
// (extensions.availableLanguages; skipped when language is nil, as RenewalStatus has no
// language), ATTEMPT_IN_PROGRESS (extensions.attemptId, the attempt's uuid: the API layer makes
// it opaque) and RETAKE_WAIT (extensions.retryAt, RFC 3339). It returns nil when the attempt
// may start.
//
// Start and RenewalStatus both call Check (RenewalStatus through checkRule, the same decision
// without building the error), so they never disagree; Submit calls Renewable, the part of
// Check that must still hold when the attempt is scored.
func Check(f Facts, language *string, now time.Time) error {
	return checkRule(f, language, now).err(f, language, now)
}

// Renewable holds the conditions that must be true both when an attempt starts and when it
// is submitted (anything here can change in between: the learner disconnects, the clock
// reaches the expiry, a merge supersedes the record, the catalog changes the certification),
// in this order: NOT_RENEWABLE, RENEWAL_NOT_AVAILABLE_YET, CERTIFICATION_EXPIRED,
// RENEWAL_WINDOW_NOT_OPEN (extensions.windowOpensOn), PROFILE_NOT_LINKED.
//
// A certification retired before today (transcript.Retired) is NOT_RENEWABLE with
// extensions.retiredOn (issue 13 "Retirement"); earned records stay valid until they expire.
//
// A SUPERSEDED record (a merge kept the other copy current) is NOT_RENEWABLE: renewing is
// done on the current record, and the superseded one may not even be expired.
func Renewable(f Facts, now time.Time) error {
	return renewableRule(f, now).err(f, nil, now)
}

// rule names the rule of Check that refuses an attempt (ruleNone: none does). The decision
// is taken without building the error: RenewalStatus only needs its code, for every row of a
// page, and formatting the messages was a measurable part of a dashboard request (issue 12).
type rule int

const (
	ruleNone rule = iota
	ruleNoProgramme
	ruleSuperseded
	ruleRetired
	ruleNotAvailableYet
	ruleExpired
	ruleWindowNotOpen
	ruleNotLinked
	ruleLanguage
	ruleInProgress
	ruleRetakeWait
)

// codes are the error codes of the rules.
var codes = [...]apperr.Code{
	ruleNoProgramme:     apperr.NotRenewable,
	ruleSuperseded:      apperr.NotRenewable,
	ruleRetired:         apperr.NotRenewable,
	ruleNotAvailableYet: apperr.RenewalNotAvailableYet,
	ruleExpired:         apperr.CertificationExpired,
	ruleWindowNotOpen:   apperr.RenewalWindowNotOpen,
	ruleNotLinked:       apperr.ProfileNotLinked,
	ruleLanguage:        apperr.LanguageNotAvailable,
	ruleInProgress:      apperr.AttemptInProgress,
	ruleRetakeWait:      apperr.RetakeWait,
}

// renewableRule is Renewable's decision.
func renewableRule(f Facts, now time.Time) rule {
	today := date.Of(now)
	c := &f.Certification
	e := &f.Earned
	switch {
	case !c.Expires() || f.Assessment == nil || e.ExpiresOn == nil:
		return ruleNoProgramme
	case e.SupersededAt != nil:
		return ruleSuperseded
	case transcript.Retired(c.RetiredOn, today):
		return ruleRetired
	}
	if from := c.RenewalAvailableFrom(); from != nil && today.Before(*from) {
		return ruleNotAvailableYet
	}
	expires := *e.ExpiresOn
	switch {
	case !today.Before(expires):
		return ruleExpired
	case today.Before(transcript.WindowOpensOn(expires)):
		return ruleWindowNotOpen
	case !f.Linked:
		return ruleNotLinked
	}
	return ruleNone
}

// checkRule is Check's decision.
func checkRule(f Facts, language *string, now time.Time) rule {
	if r := renewableRule(f, now); r != ruleNone {
		return r
	}
	if language != nil && OfferedLanguage(f.Assessment.Languages, *language) == "" {
		return ruleLanguage
	}
	if inProgress(f.Attempts) != nil {
		return ruleInProgress
	}
	if at := RetryAt(f.Attempts, *f.Earned.ExpiresOn); at != nil && now.Before(*at) {
		return ruleRetakeWait
	}
	return ruleNone
}

// err is the error of rule r for the facts it was decided on (nil for ruleNone).
func (r rule) err(f Facts, language *string, now time.Time) error {
	c := &f.Certification
	e := &f.Earned
	switch r {
	case ruleNoProgramme:
		return apperr.E(apperr.NotRenewable, "this certification has no renewal programme")
	case ruleSuperseded:
		return apperr.E(apperr.NotRenewable, "this record was superseded by another copy of the certification; renew the current one")
	case ruleRetired:
		return apperr.E(apperr.NotRenewable,
			"this certification was retired on %s and can no longer be renewed; it stays valid until it expires on %s",
			c.RetiredOn, e.ExpiresOn).With("retiredOn", c.RetiredOn.String())
	case ruleNotAvailableYet:
		from := c.RenewalAvailableFrom()
		return apperr.E(apperr.RenewalNotAvailableYet,
			"the renewal assessment for this certification becomes available on %s", from).
			With("availableFrom", from.String())
	case ruleExpired:
		return apperr.E(apperr.CertificationExpired,
			"the certification expired on %s; earn it again by passing the required exams", *e.ExpiresOn)
	case ruleWindowNotOpen:
		opens := transcript.WindowOpensOn(*e.ExpiresOn)
		return apperr.E(apperr.RenewalWindowNotOpen, "the renewal window opens on %s", opens).
			With("windowOpensOn", opens.String())
	case ruleNotLinked:
		return apperr.E(apperr.ProfileNotLinked,
			"connect your certification profile to your Learn profile before taking the renewal assessment")
	case ruleLanguage:
		return apperr.E(apperr.LanguageNotAvailable, "the renewal assessment is not offered in %q", *language).
			With("availableLanguages", slices.Clone(f.Assessment.Languages))
	case ruleInProgress:
		return apperr.E(apperr.AttemptInProgress,
			"an attempt for this certification is in progress; submit it first").With("attemptId", inProgress(f.Attempts).ID)
	case ruleRetakeWait:
		at := RetryAt(f.Attempts, *f.Earned.ExpiresOn)
		return apperr.E(apperr.RetakeWait, "the next attempt may start at %s", at.Format(time.RFC3339Nano)).
			With("retryAt", at.Format(time.RFC3339Nano))
	}
	return nil
}

// StatusOf is RenewalStatus at now: Check without a language, plus the window, the deadline
// (the current expiry), the attempts started in the current cycle and, while the 24-hour
// retake wait runs, when it ends. Window and deadline are set only for renewable records
// (expiring certification with an assessment, not superseded, not retired); RetiredOn is the
// certification's retirement date whenever it has one, past or announced.
func StatusOf(f Facts, now time.Time) Status {
	var st Status
	if r := f.Certification.RetiredOn; r != nil {
		d := *r
		st.RetiredOn = &d
	}
	if r := checkRule(f, nil, now); r != ruleNone {
		code := string(codes[r])
		st.Reason = &code
	} else {
		st.Eligible = true
	}
	e := &f.Earned
	st.NextAction = NextActionOf(st.Reason, expiredOn(e, date.Of(now)))
	if !f.Certification.Expires() || f.Assessment == nil || e.ExpiresOn == nil || e.SupersededAt != nil ||
		transcript.Retired(f.Certification.RetiredOn, date.Of(now)) {
		return st
	}
	expires := *e.ExpiresOn
	opens := transcript.WindowOpensOn(expires)
	st.WindowOpensOn, st.Deadline = &opens, &expires
	st.DeadlineAt, _ = DeadlineAt(f)
	for _, a := range f.Attempts {
		if a.CycleExpiresOn == expires {
			st.AttemptsThisCycle++
		}
	}
	if at := RetryAt(f.Attempts, expires); at != nil && now.Before(*at) && date.Of(now).Before(expires) {
		st.NextAttemptAt = at
	}
	return st
}

// RetryAt is the earliest instant the next attempt of the cycle ending on cycle may start by
// the retake rule alone: nil while fewer than FreeAttempts attempts of the cycle have been
// submitted, else the last submission plus RetakeWait.
func RetryAt(attempts []Attempt, cycle date.Date) *time.Time {
	var n int
	var last time.Time
	for _, a := range attempts {
		if a.CycleExpiresOn != cycle || a.SubmittedAt == nil {
			continue
		}
		n++
		if a.SubmittedAt.After(last) {
			last = *a.SubmittedAt
		}
	}
	if n < FreeAttempts {
		return nil
	}
	at := last.Add(RetakeWait)
	return &at
}

func inProgress(attempts []Attempt) *Attempt {
	for i := range attempts {
		if attempts[i].InProgress() {
			return &attempts[i]
		}
	}
	return nil
}

// OfferedLanguage returns the offered language matching lang (case-insensitively, so "ja-jp"
// does not match but "JA" does), or "" when none does.
func OfferedLanguage(offered []string, lang string) string {
	lang = strings.TrimSpace(lang)
	for _, l := range offered {
		if strings.EqualFold(l, lang) {
			return l
		}
	}
	return ""
}

// Extend is the expiry after a pass: exactly one year after the current expiry, clamped to
// the end of the month (docs/domain.md "Passing"; 2024-02-29 becomes 2025-02-28).
func Extend(current date.Date) date.Date { return current.AddYears(1) }

// Result is a scored submission.
type Result struct {
	Score    int // percent of served questions answered exactly right, rounded down
	Correct  int // how many were
	Passed   bool
	Selected map[uuid.UUID][]uuid.UUID // question -> choices selected, for every served question
}

// Score checks answers against the keys of the served questions and scores them: a question
// counts when exactly its correct choices are selected; unanswered questions count as wrong;
// passed when the score reaches passing.
// Codes: BAD_USER_INPUT when an answer names a question not served, answers a question
// twice, or names a choice not served with its question or twice. Messages name only the
// position of the answer, never anything about which choices are correct.
func Score(keys []Key, answers []Answer, passing int) (Result, error) {
	byQuestion := make(map[uuid.UUID]*Key, len(keys))
	for i := range keys {
		byQuestion[keys[i].QuestionID] = &keys[i]
	}
	selected := make(map[uuid.UUID][]uuid.UUID, len(keys))
	for i, a := range answers {
		k := byQuestion[a.QuestionID]
		if k == nil {
			return Result{}, apperr.Invalid("answer %d names a question this attempt did not serve", i+1)
		}
		if _, dup := selected[a.QuestionID]; dup {
			return Result{}, apperr.Invalid("answer %d answers a question already answered", i+1)
		}
		seen := make(map[uuid.UUID]bool, len(a.ChoiceIDs))
		for _, c := range a.ChoiceIDs {
			if !slices.Contains(k.Choices, c) {
				return Result{}, apperr.Invalid("answer %d names a choice not served with its question", i+1)
			}
			if seen[c] {
				return Result{}, apperr.Invalid("answer %d names a choice twice", i+1)
			}
			seen[c] = true
		}
		selected[a.QuestionID] = slices.Clone(a.ChoiceIDs)
	}
	res := Result{Selected: selected}
	for _, k := range keys {
		if _, ok := selected[k.QuestionID]; !ok {
			selected[k.QuestionID] = []uuid.UUID{}
		}
		if sameSet(selected[k.QuestionID], k.Correct) {
			res.Correct++
		}
	}
	if len(keys) > 0 {
		res.Score = res.Correct * 100 / len(keys)
	}
	res.Passed = res.Score >= passing
	return res, nil
}

func sameSet(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
