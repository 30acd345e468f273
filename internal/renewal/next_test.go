package renewal

import (
	"testing"
	"time"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/catalog"
)

// TestNextActionFollowsTheRules walks the whole rule set of Check (every reason RenewalStatus
// can show, and eligible) and checks that nextAction says the same thing as eligible/reason.
func TestNextActionFollowsTheRules(t *testing.T) {
	inProgress := attempt("2021-08-31", "2021-03-01T09:00:00Z", "")
	twoFailed := []Attempt{
		attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:30:00Z"),
		attempt("2021-08-31", "2021-03-01T10:00:00Z", "2021-03-01T10:30:00Z"),
	}
	cases := []struct {
		name   string
		edit   func(f *Facts)
		now    string
		reason apperr.Code // "" when eligible
		want   NextAction
	}{
		{name: "eligible: start the assessment", now: "2021-03-01T09:00:00Z", want: NextStartAssessment},
		{name: "fundamentals: nothing to renew", now: "2021-03-01T09:00:00Z", reason: apperr.NotRenewable, want: NextNone,
			edit: func(f *Facts) { f.Certification.Level = catalog.LevelFundamentals; f.Earned.ExpiresOn = nil }},
		{name: "no assessment: nothing to renew", now: "2021-03-01T09:00:00Z", reason: apperr.NotRenewable, want: NextNone,
			edit: func(f *Facts) { f.Assessment = nil }},
		{name: "superseded: nothing to renew", now: "2021-03-01T09:00:00Z", reason: apperr.NotRenewable, want: NextNone,
			edit: func(f *Facts) { f.Earned.SupersededAt = ptr(at("2021-01-01T00:00:00Z")) }},
		{name: "retired: nothing to renew", now: "2021-05-01T00:00:00Z", reason: apperr.NotRenewable, want: NextNone,
			edit: func(f *Facts) { f.Certification.RetiredOn = ptr(d("2021-04-30")) }},
		{name: "assessment not available yet, before expiry: wait", now: "2021-07-30T23:00:00Z",
			reason: apperr.RenewalNotAvailableYet, want: NextWaitForWindow,
			edit: func(f *Facts) { f.Certification.ReleasedOn = d("2021-01-31") }},
		{name: "assessment not available yet, but expired: re-earn", now: "2021-09-01T00:00:00Z",
			reason: apperr.RenewalNotAvailableYet, want: NextReEarnByExam,
			edit: func(f *Facts) { f.Certification.ReleasedOn = d("2021-06-01") }},
		{name: "expired: re-earn by exam", now: "2021-08-31T00:00:00Z", reason: apperr.CertificationExpired, want: NextReEarnByExam},
		{name: "window not open: wait for it", now: "2021-02-27T23:59:59Z", reason: apperr.RenewalWindowNotOpen, want: NextWaitForWindow},
		{name: "not connected: connect the profile", now: "2021-03-01T09:00:00Z", reason: apperr.ProfileNotLinked,
			want: NextConnectProfile, edit: func(f *Facts) { f.Linked = false }},
		{name: "attempt in progress: resume it", now: "2021-03-02T09:00:00Z", reason: apperr.AttemptInProgress,
			want: NextResumeAttempt, edit: func(f *Facts) { f.Attempts = []Attempt{inProgress} }},
		{name: "retake wait: wait for it", now: "2021-03-02T10:29:59Z", reason: apperr.RetakeWait,
			want: NextWaitForRetake, edit: func(f *Facts) { f.Attempts = twoFailed }},
		{name: "retake wait over: start", now: "2021-03-02T10:30:00Z", want: NextStartAssessment,
			edit: func(f *Facts) { f.Attempts = twoFailed }},
	}
	seen := map[apperr.Code]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			if c.edit != nil {
				c.edit(&f)
			}
			st := StatusOf(f, at(c.now))
			if got := apperr.Code(str(st.Reason)); got != c.reason || st.Eligible != (c.reason == "") {
				t.Fatalf("got reason %q eligible %v, want %q", got, st.Eligible, c.reason)
			}
			if st.NextAction != c.want {
				t.Fatalf("got nextAction %s, want %s", st.NextAction, c.want)
			}
			seen[c.reason] = true
		})
	}
	// Every code Check can give without a language, and eligible, is covered above.
	for _, code := range []apperr.Code{"", apperr.NotRenewable, apperr.RenewalNotAvailableYet, apperr.CertificationExpired,
		apperr.RenewalWindowNotOpen, apperr.ProfileNotLinked, apperr.AttemptInProgress, apperr.RetakeWait} {
		if !seen[code] {
			t.Errorf("no case for reason %q", code)
		}
	}
}

// TestDeadlineAtIsTheLastAcceptedInstant: Renewable, which Submit applies, accepts a
// submission at deadlineAt and refuses one a nanosecond later, for month ends, a leap day and
// an announced retirement before the expiry.
func TestDeadlineAtIsTheLastAcceptedInstant(t *testing.T) {
	cases := []struct {
		name, expires, retired, want string
		code                         apperr.Code
	}{
		{name: "31 Aug", expires: "2021-08-31", want: "2021-08-30T23:59:59.999999999Z", code: apperr.CertificationExpired},
		{name: "29 Feb", expires: "2024-02-29", want: "2024-02-28T23:59:59.999999999Z", code: apperr.CertificationExpired},
		{name: "1 Mar after a leap day", expires: "2024-03-01", want: "2024-02-29T23:59:59.999999999Z", code: apperr.CertificationExpired},
		{name: "retired before the expiry", expires: "2021-08-31", retired: "2021-06-30",
			want: "2021-06-30T23:59:59.999999999Z", code: apperr.NotRenewable},
		{name: "retired after the expiry changes nothing", expires: "2021-08-31", retired: "2021-12-31",
			want: "2021-08-30T23:59:59.999999999Z", code: apperr.CertificationExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			f.Earned.EarnedOn = d(c.expires).AddYears(-1)
			f.Earned.ExpiresOn = ptr(d(c.expires))
			if c.retired != "" {
				f.Certification.RetiredOn = ptr(d(c.retired))
			}
			last, ok := DeadlineAt(f)
			if !ok || last.Format(time.RFC3339Nano) != c.want {
				t.Fatalf("got %s %v, want %s", last.Format(time.RFC3339Nano), ok, c.want)
			}
			if err := Renewable(f, last); err != nil {
				t.Fatalf("at deadlineAt: got %v, want accepted", err)
			}
			if got := apperr.CodeOf(Renewable(f, last.Add(time.Nanosecond))); got != c.code {
				t.Fatalf("a nanosecond after deadlineAt: got %s, want %s", got, c.code)
			}
			if st := StatusOf(f, last.Add(-time.Hour)); !st.DeadlineAt.Equal(last) {
				t.Fatalf("status: got deadlineAt %s, want %s", st.DeadlineAt, last)
			}
		})
	}
	// A record with no expiry has no accepted instant.
	f := base()
	f.Earned.ExpiresOn = nil
	if _, ok := DeadlineAt(f); ok {
		t.Fatal("fundamentals: got a deadline, want none")
	}
}
