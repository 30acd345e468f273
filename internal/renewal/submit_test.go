package renewal_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
)

// TestPassExtendsFromCurrentExpiry: a pass adds exactly one year to the current expiry (not to
// the day of passing), clamped at month end; after it the certification is outside the new
// window, so a second renewal in the same cycle is refused; the next cycle counts afresh.
func TestPassExtendsFromCurrentExpiry(t *testing.T) {
	cases := []struct {
		name                   string
		earnedOn, expires, now string
		wantExpiry, wantWindow string
		beforeWindow           string // an instant just before the window opened, refused
	}{
		{name: "passing in March extends June to June", earnedOn: "2020-06-15", now: "2021-03-01T09:00:00Z",
			wantExpiry: "2022-06-15", wantWindow: "2021-12-15"},
		{name: "29 Feb 2024 plus a year is 28 Feb 2025", earnedOn: "2023-02-28", expires: "2024-02-29",
			now: "2024-01-10T12:00:00Z", wantExpiry: "2025-02-28", wantWindow: "2024-08-28"},
		{name: "31 Aug: window opens on the last day of February", earnedOn: "2020-08-31", now: "2021-02-28T00:00:00Z",
			beforeWindow: "2021-02-27T23:59:59Z", wantExpiry: "2022-08-31", wantWindow: "2022-02-28"},
	}
	env := apitest.New(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHolder(t, env, "extender-"+string(rune('a'+i)))
			h.link(t, env)
			e := h.earn(t, env, azureAdmin, c.earnedOn, c.expires)
			before := expiresOn(t, env, e)
			if c.beforeWindow != "" {
				env.Clock.Set(at(c.beforeWindow))
				err := startFails(t, env, h.who, e, "en", "RENEWAL_WINDOW_NOT_OPEN")
				if got := err.Extensions["windowOpensOn"]; got != "2021-02-28" {
					t.Fatalf("got windowOpensOn %v, want 2021-02-28", got)
				}
			}
			env.Clock.Set(at(c.now))
			a := start(t, env, h.who, e, "en")
			env.Clock.Advance(45 * time.Minute)
			r := submit(t, env, h.who, a.ID, answers(t, env, a, len(a.Questions)))
			if r.Attempt.Passed == nil || !*r.Attempt.Passed || *r.Attempt.Score != 100 {
				t.Fatalf("got %s, want passed with 100", asJSON(r.Attempt))
			}
			ec := r.EarnedCertification
			if str(ec.ExpiresOn) != c.wantExpiry {
				t.Fatalf("got expiresOn %s, want %s (from the current expiry %s)", str(ec.ExpiresOn), c.wantExpiry, before)
			}
			if got := expiresOn(t, env, e); got != c.wantExpiry {
				t.Fatalf("stored expiry: got %s, want %s", got, c.wantExpiry)
			}
			if len(ec.Renewals) != 1 || ec.Renewals[0].PreviousExpiresOn != before || ec.Renewals[0].NewExpiresOn != c.wantExpiry ||
				ec.Renewals[0].Attempt.ID != a.ID || !at(ec.Renewals[0].RenewedAt).Equal(at(c.now).Add(45*time.Minute)) {
				t.Fatalf("got renewals %s, want one from %s to %s by %s", asJSON(ec.Renewals), before, c.wantExpiry, a.ID)
			}
			st := ec.Renewal
			if st.Eligible || str(st.Reason) != "RENEWAL_WINDOW_NOT_OPEN" || str(st.WindowOpensOn) != c.wantWindow ||
				str(st.Deadline) != c.wantExpiry || st.AttemptsThisCycle != 0 {
				t.Fatalf("status after the pass: got %s, want RENEWAL_WINDOW_NOT_OPEN, window %s, deadline %s, 0 attempts",
					asJSON(st), c.wantWindow, c.wantExpiry)
			}
			err := startFails(t, env, h.who, e, "en", "RENEWAL_WINDOW_NOT_OPEN")
			if got := err.Extensions["windowOpensOn"]; got != c.wantWindow {
				t.Fatalf("second renewal in the cycle: got windowOpensOn %v, want %s", got, c.wantWindow)
			}
			// The next cycle starts afresh when its window opens.
			env.Clock.Set(at(c.wantWindow + "T00:00:00Z"))
			next := start(t, env, h.who, e, "en")
			if got := earnedViaAttempt(t, env, h.who, next.ID).Renewal.AttemptsThisCycle; got != 1 {
				t.Fatalf("next cycle: got %d attempts this cycle, want 1", got)
			}
		})
	}
}

// TestExpertAndAssociateRenewIndependently: renewing the expert leaves its associate
// prerequisite alone and the other way round; an expired prerequisite does not stop the
// expert from renewing.
func TestExpertAndAssociateRenewIndependently(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "expert")
	h.link(t, env)
	assoc := h.earn(t, env, azureAdmin, "2020-06-15", "") // 2021-06-15
	expert := h.earn(t, env, devops, "2020-07-01", "")    // 2021-07-01

	pass := func(e uuid.UUID) {
		t.Helper()
		a := start(t, env, h.who, e, "en")
		if r := submit(t, env, h.who, a.ID, answers(t, env, a, len(a.Questions))); !*r.Attempt.Passed {
			t.Fatalf("got %s, want a pass", asJSON(r.Attempt))
		}
	}
	pass(expert)
	if got, want := expiresOn(t, env, expert), "2022-07-01"; got != want {
		t.Fatalf("expert: got %s, want %s", got, want)
	}
	if got, want := expiresOn(t, env, assoc), "2021-06-15"; got != want {
		t.Fatalf("renewing the expert changed the associate: got %s, want %s", got, want)
	}
	pass(assoc)
	if got, want := expiresOn(t, env, assoc), "2022-06-15"; got != want {
		t.Fatalf("associate: got %s, want %s", got, want)
	}
	if got, want := expiresOn(t, env, expert), "2022-07-01"; got != want {
		t.Fatalf("renewing the associate changed the expert: got %s, want %s", got, want)
	}

	h2 := newHolder(t, env, "expert-2")
	h2.link(t, env)
	oldAssoc := h2.earn(t, env, azureAdmin, "2020-02-20", "") // expired 2021-02-20
	expert2 := h2.earn(t, env, devops, "2020-06-20", "")
	startFails(t, env, h2.who, oldAssoc, "en", "CERTIFICATION_EXPIRED")
	a := start(t, env, h2.who, expert2, "en")
	if r := submit(t, env, h2.who, a.ID, answers(t, env, a, len(a.Questions))); !*r.Attempt.Passed || str(r.EarnedCertification.ExpiresOn) != "2022-06-20" {
		t.Fatalf("expert with an expired prerequisite: got %s, want passed and 2022-06-20", asJSON(r))
	}
}

// TestSubmitRefusals covers every refusal of submitRenewalAssessment.
func TestSubmitRefusals(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "submitter")
	h.link(t, env)
	other := newHolder(t, env, "intruder")
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")
	a := start(t, env, h.who, e, "en")
	good := answers(t, env, a, len(a.Questions))
	q0, q1 := a.Questions[0], a.Questions[1]
	vars := func(id string, ans []map[string]any) map[string]any { return map[string]any{"id": id, "answers": ans} }
	one := func(q string, choices ...string) map[string]any {
		return map[string]any{"questionId": q, "choiceIds": choices}
	}

	bad := map[string][]map[string]any{
		"a question not served":        {one(uuid.NewString(), q0.Choices[0].ID)},
		"a choice of another question": {one(q0.ID, q1.Choices[0].ID)},
		"a choice never served":        {one(q0.ID, uuid.NewString())},
		"a question answered twice":    {one(q0.ID, q0.Choices[0].ID), one(q0.ID, q0.Choices[1].ID)},
		"a choice named twice":         {one(q0.ID, q0.Choices[0].ID, q0.Choices[0].ID)},
		"a malformed question id":      {one("question-1", q0.Choices[0].ID)},
		"a malformed choice id":        {one(q0.ID, "choice-1")},
	}
	for name, ans := range bad {
		t.Run("BAD_USER_INPUT for "+name, func(t *testing.T) {
			env.MustFail(h.who, submitMutation, vars(a.ID, ans), "BAD_USER_INPUT")
		})
	}
	t.Run("BAD_USER_INPUT for a malformed attempt id", func(t *testing.T) {
		env.MustFail(h.who, submitMutation, vars("nope", good), "BAD_USER_INPUT")
	})
	t.Run("UNAUTHENTICATED without a token", func(t *testing.T) {
		env.MustFail(apitest.Anonymous, submitMutation, vars(a.ID, good), "UNAUTHENTICATED")
	})
	t.Run("NOT_FOUND for someone else's attempt", func(t *testing.T) {
		env.MustFail(other.who, submitMutation, vars(a.ID, good), "NOT_FOUND")
	})
	t.Run("NOT_FOUND for an unknown attempt", func(t *testing.T) {
		env.MustFail(h.who, submitMutation, vars(opaque("AssessmentAttempt", uuid.New()), good), "NOT_FOUND")
	})
	t.Run("FORBIDDEN for support", func(t *testing.T) {
		env.MustFail(apitest.Support("agent"), submitMutation, vars(a.ID, good), "FORBIDDEN")
	})
	t.Run("refusals leave the attempt in progress", func(t *testing.T) {
		var out attemptNodeOut
		env.MustDo(h.who, attemptNode, map[string]any{"id": a.ID}, &out)
		if out.Node.SubmittedAt != nil || out.Node.Score != nil || len(out.Node.EarnedCertification.Renewals) != 0 {
			t.Fatalf("got %s, want still in progress, no renewal", asJSON(out.Node))
		}
	})
	t.Run("ATTEMPT_ALREADY_SUBMITTED the second time", func(t *testing.T) {
		r := submit(t, env, h.who, a.ID, answers(t, env, a, 0))
		if *r.Attempt.Passed {
			t.Fatal("got a pass, want a failure")
		}
		env.MustFail(h.who, submitMutation, vars(a.ID, good), "ATTEMPT_ALREADY_SUBMITTED")
		if got := expiresOn(t, env, e); got != "2021-06-15" {
			t.Fatalf("got expiry %s after the refused resubmission, want 2021-06-15", got)
		}
	})
	t.Run("CERTIFICATION_EXPIRED when submitted on the expiry date", func(t *testing.T) {
		e2 := h.earn(t, env, messaging, "2020-03-10", "") // expires 2021-03-10
		a2 := start(t, env, h.who, e2, "en")
		ans := answers(t, env, a2, len(a2.Questions))
		env.Clock.Set(at("2021-03-10T00:00:00Z"))
		defer env.Clock.Set(apitest.Start)
		env.MustFail(h.who, submitMutation, vars(a2.ID, ans), "CERTIFICATION_EXPIRED")
		if got := expiresOn(t, env, e2); got != "2021-03-10" {
			t.Fatalf("got expiry %s, want 2021-03-10 unchanged", got)
		}
		env.Clock.Set(at("2021-03-09T23:59:59Z"))
		if r := submit(t, env, h.who, a2.ID, ans); !*r.Attempt.Passed || str(r.EarnedCertification.ExpiresOn) != "2022-03-10" {
			t.Fatalf("one second before expiry: got %s, want passed, expiry 2022-03-10", asJSON(r))
		}
	})
}

// TestAttemptVisibility: node(id) of an attempt for its holder and support only; the
// earned certification's attempts, renewals and status are never shown to anyone else.
func TestAttemptVisibility(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "owner")
	h.link(t, env)
	stranger := newHolder(t, env, "stranger")
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")
	a := start(t, env, h.who, e, "en")
	submit(t, env, h.who, a.ID, answers(t, env, a, len(a.Questions)))

	for _, who := range []apitest.Identity{h.who, apitest.Support("agent")} {
		got := earnedViaAttempt(t, env, who, a.ID)
		if len(got.Attempts) != 1 || len(got.Renewals) != 1 || got.Renewals[0].Attempt.ID != a.ID {
			t.Errorf("%s: got %s, want the attempt and its renewal", who.Subject, asJSON(got))
		}
	}
	for _, who := range []apitest.Identity{stranger.who, apitest.Anonymous, apitest.Admin("catalog-admin")} {
		var out attemptNodeOut
		r := env.Do(who, attemptNode, map[string]any{"id": a.ID})
		if len(r.Errors) > 0 && who.Subject != "" {
			t.Errorf("%s: got errors %s, want a null node", who.Subject, r.Raw)
		}
		_ = asJSONInto(r.Data, &out)
		if out.Node != nil {
			t.Errorf("%s: got %s, want null", who.Subject, r.Raw)
		}
	}
}
