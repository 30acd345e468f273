package renewal_test

import (
	"sync"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// race runs n copies of one request at the same moment and returns their responses.
func race(env *apitest.Env, n int, who apitest.Identity, query string, vars map[string]any) []apitest.Response {
	var wg sync.WaitGroup
	ready := make(chan struct{})
	out := make([]apitest.Response, n)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			out[i] = env.Do(who, query, vars)
		}()
	}
	close(ready)
	wg.Wait()
	return out
}

// TestConcurrentStarts: five simultaneous starts of one certification create one attempt;
// the others are refused with ATTEMPT_IN_PROGRESS naming it. The database decides (row lock
// on the earned certification, one-in-progress unique index), not a Go mutex.
func TestConcurrentStarts(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "racer")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")
	env.Do(h.who, `{ viewer { account { id } } }`, nil) // the account exists before the race

	var winner string
	var refused []string
	for _, r := range race(env, 5, h.who, startMutation, map[string]any{"id": opaque("EarnedCertification", e), "lang": "en"}) {
		if len(r.Errors) == 0 {
			var out struct{ StartRenewalAssessment struct{ Attempt attemptOut } }
			_ = asJSONInto(r.Data, &out)
			if winner != "" {
				t.Fatalf("two starts succeeded: %s and %s", winner, out.StartRenewalAssessment.Attempt.ID)
			}
			winner = out.StartRenewalAssessment.Attempt.ID
			continue
		}
		if code := r.Errors[0].Code(); code != "ATTEMPT_IN_PROGRESS" {
			t.Fatalf("got %s, want ATTEMPT_IN_PROGRESS\n%s", code, r.Raw)
		}
		id, _ := r.Errors[0].Extensions["attemptId"].(string)
		refused = append(refused, id)
	}
	if winner == "" || len(refused) != 4 {
		t.Fatalf("got winner %q and %d refusals, want one and four", winner, len(refused))
	}
	for _, id := range refused {
		if id != winner {
			t.Errorf("got attemptId %q, want the winner %s", id, winner)
		}
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM assessment_attempts WHERE earned_certification_id = $1`, e); err != nil || n != 1 {
		t.Fatalf("got %d attempts stored (%v), want 1", n, err)
	}
}

// TestConcurrentSubmissions: five simultaneous passing submissions of one attempt score once
// and extend once; the others get ATTEMPT_ALREADY_SUBMITTED.
func TestConcurrentSubmissions(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "submit-racer")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")
	a := start(t, env, h.who, e, "en")
	ans := answers(t, env, a, len(a.Questions))

	ok, already := 0, 0
	for _, r := range race(env, 5, h.who, submitMutation, map[string]any{"id": a.ID, "answers": ans}) {
		switch {
		case len(r.Errors) == 0:
			ok++
		case r.Errors[0].Code() == "ATTEMPT_ALREADY_SUBMITTED":
			already++
		default:
			t.Fatalf("got %s, want success or ATTEMPT_ALREADY_SUBMITTED", r.Raw)
		}
	}
	if ok != 1 || already != 4 {
		t.Fatalf("got %d successes and %d ATTEMPT_ALREADY_SUBMITTED, want 1 and 4", ok, already)
	}
	if got := expiresOn(t, env, e); got != "2022-06-15" {
		t.Fatalf("got expiry %s, want 2022-06-15 (extended exactly once)", got)
	}
	var renewals, scored int
	if err := env.DB.Get(&renewals, `SELECT count(*) FROM renewals WHERE earned_certification_id = $1`, e); err != nil || renewals != 1 {
		t.Fatalf("got %d renewals (%v), want 1", renewals, err)
	}
	if err := env.DB.Get(&scored, `SELECT count(*) FROM assessment_attempts WHERE earned_certification_id = $1 AND score IS NOT NULL`, e); err != nil || scored != 1 {
		t.Fatalf("got %d scored attempts (%v), want 1", scored, err)
	}
}

// TestConcurrentPublishes: five simultaneous publications of one assessment get five
// consecutive version numbers (the assessment row is locked), none is lost or refused.
func TestConcurrentPublishes(t *testing.T) {
	env := apitest.New(t)
	in := map[string]any{"certificationCode": azureAdmin, "questions": bank("Race", 3)}
	seen := map[int]bool{}
	for _, r := range race(env, 5, apitest.Admin("catalog-admin"), publishMutation, map[string]any{"in": in}) {
		var out struct {
			PublishRenewalAssessment struct{ RenewalAssessment publishedOut }
		}
		if len(r.Errors) > 0 || asJSONInto(r.Data, &out) != nil {
			t.Fatalf("got %s, want a published version", r.Raw)
		}
		seen[out.PublishRenewalAssessment.RenewalAssessment.Version] = true
	}
	for v := 2; v <= 6; v++ {
		if !seen[v] {
			t.Fatalf("got versions %v, want 2 to 6 each once", seen)
		}
	}
}
