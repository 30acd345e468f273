package renewal_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
)

// The tests of this file change, between startRenewalAssessment and submitRenewalAssessment,
// one thing start checked, and expect the submission refused with start's code: no expiry
// change, no renewal, no score, the attempt still in progress.

const unlinkMutation = `mutation($id: ID!) { unlinkCertificationProfile(input: {certificationProfileId: $id}) {
  certificationProfile { id } } }`

const mergeMutation = `mutation($in: MergeCertificationProfilesInput!) { mergeCertificationProfiles(input: $in) {
  survivor { id } } }`

func (h holder) unlink(t *testing.T, env *apitest.Env) {
	t.Helper()
	env.MustDo(h.who, unlinkMutation, map[string]any{"id": opaque("CertificationProfile", h.profileID)}, nil)
}

// merge merges dup into survivor through the API, as support.
func merge(t *testing.T, env *apitest.Env, survivor, dup uuid.UUID, keep string) {
	t.Helper()
	in := map[string]any{"survivorId": opaque("CertificationProfile", survivor), "duplicateId": opaque("CertificationProfile", dup),
		"reason": "same person", "idempotencyKey": uuid.NewString()}
	if keep != "" {
		in["keepLearnProfileOf"] = keep
	}
	env.MustDo(apitest.Support("agent"), mergeMutation, map[string]any{"in": in}, nil)
}

// secondProfile creates another certification profile for h's account (the person registered
// twice), not connected.
func (h holder) secondProfile(t *testing.T, env *apitest.Env) holder {
	t.Helper()
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile struct{ ID, MCID string } }
	}
	env.MustDo(h.who, createProfile, map[string]any{"n": "Learner " + h.who.Subject, "e": h.who.Subject + ".2@example.com"}, &out)
	p := out.CreateCertificationProfile.CertificationProfile
	return holder{who: h.who, profileID: unopaque(t, p.ID), mcid: p.MCID}
}

// refusedSubmit submits a passing answer sheet and expects code; then checks that nothing was
// written: the stored expiry is still want, the attempt has no submission or score, and the
// certification has no renewal.
func refusedSubmit(t *testing.T, env *apitest.Env, who apitest.Identity, a attemptOut, earned uuid.UUID, code, want string) {
	t.Helper()
	env.MustFail(who, submitMutation, map[string]any{"id": a.ID, "answers": answers(t, env, a, len(a.Questions))}, code)
	if got := expiresOn(t, env, earned); got != want {
		t.Fatalf("got expiry %s after a refused submission, want %s unchanged", got, want)
	}
	var st struct {
		Submitted bool
		Renewals  int
		Selected  int
	}
	if err := env.DB.Get(&st, `
SELECT t.submitted_at IS NOT NULL OR t.score IS NOT NULL OR t.passed IS NOT NULL AS submitted,
       (SELECT count(*) FROM renewals r WHERE r.earned_certification_id = $2) AS renewals,
       (SELECT count(*) FROM attempt_questions aq WHERE aq.attempt_id = t.id AND aq.selected IS NOT NULL) AS selected
FROM assessment_attempts t WHERE t.id = $1`, unopaque(t, a.ID), earned); err != nil {
		t.Fatal(err)
	}
	if st.Submitted || st.Renewals != 0 || st.Selected != 0 {
		t.Fatalf("after a refused submission: got %+v, want the attempt in progress, nothing selected, no renewal", st)
	}
}

// TestSubmitRefusedWhenDisconnectedMeanwhile: the owner disconnects between start and submit;
// the submission is PROFILE_NOT_LINKED and changes nothing; the attempt stays in progress
// (start refuses a new one with ATTEMPT_IN_PROGRESS) and, once connected again, the same
// attempt is submitted and renews.
func TestSubmitRefusedWhenDisconnectedMeanwhile(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "unlinker")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "") // 2021-06-15
	a := start(t, env, h.who, e, "en")
	h.unlink(t, env)
	refusedSubmit(t, env, h.who, a, e, "PROFILE_NOT_LINKED", "2021-06-15")
	if got := earnedViaAttempt(t, env, h.who, a.ID).Renewal; str(got.Reason) != "PROFILE_NOT_LINKED" {
		t.Fatalf("status: got %s, want reason PROFILE_NOT_LINKED", asJSON(got))
	}

	h.link(t, env)
	err := startFails(t, env, h.who, e, "en", "ATTEMPT_IN_PROGRESS")
	if got := err.Extensions["attemptId"]; got != a.ID {
		t.Fatalf("got attemptId %v, want the refused attempt %s, still in progress", got, a.ID)
	}
	r := submit(t, env, h.who, a.ID, answers(t, env, a, len(a.Questions)))
	if r.Attempt.Passed == nil || !*r.Attempt.Passed || str(r.EarnedCertification.ExpiresOn) != "2022-06-15" {
		t.Fatalf("connected again: got %s, want passed and expiry 2022-06-15", asJSON(r))
	}
}

// TestSubmitRefusedWhenExpiredMeanwhile: the clock reaches the expiry date between start and
// submit: CERTIFICATION_EXPIRED, nothing written.
func TestSubmitRefusedWhenExpiredMeanwhile(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "sleeper")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "") // 2021-06-15
	env.Clock.Set(at("2021-06-14T23:00:00Z"))
	a := start(t, env, h.who, e, "en")
	env.Clock.Advance(time.Hour)
	refusedSubmit(t, env, h.who, a, e, "CERTIFICATION_EXPIRED", "2021-06-15")
}

// TestSubmitRefusedWhenSupersededByAMerge: support merges the profile holding the attempt's
// record into another profile of the same person that holds the same certification with a
// later expiry. The merge moves the record and its attempt to the survivor and marks the
// record SUPERSEDED: the submission is NOT_RENEWABLE and neither copy changes.
func TestSubmitRefusedWhenSupersededByAMerge(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "twice")
	h.link(t, env)
	survivor := h.secondProfile(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")              // 2021-06-15
	current := survivor.earn(t, env, azureAdmin, "2020-09-01", "") // 2021-09-01: the one kept current
	a := start(t, env, h.who, e, "en")
	merge(t, env, survivor.profileID, h.profileID, "")
	var held uuid.UUID
	if err := env.DB.Get(&held, `SELECT profile_id FROM earned_certifications WHERE id = $1`, e); err != nil || held != survivor.profileID {
		t.Fatalf("the merge left the record on %s (%v), want the survivor %s", held, err, survivor.profileID)
	}
	refusedSubmit(t, env, h.who, a, e, "NOT_RENEWABLE", "2021-06-15")
	if got := expiresOn(t, env, current); got != "2021-09-01" {
		t.Fatalf("the current copy: got %s, want 2021-09-01 unchanged", got)
	}
}

// TestAttemptFollowsItsRecordThroughAMerge defines what a merge means for an attempt in
// progress: it moves with its earned certification, and submit judges the profile that holds
// the record now. Merged into a profile of the same person (the connection moving with it) and
// still current, it renews; merged into a profile of another account, the record is no longer
// the submitter's: NOT_FOUND, nothing written.
func TestAttemptFollowsItsRecordThroughAMerge(t *testing.T) {
	env := apitest.New(t)
	t.Run("same person, record still current: renews", func(t *testing.T) {
		h := newHolder(t, env, "mover")
		h.link(t, env)
		survivor := h.secondProfile(t, env)
		e := h.earn(t, env, azureAdmin, "2020-06-15", "")
		a := start(t, env, h.who, e, "en")
		merge(t, env, survivor.profileID, h.profileID, "") // only the duplicate was connected: it moves
		r := submit(t, env, h.who, a.ID, answers(t, env, a, len(a.Questions)))
		if r.Attempt.Passed == nil || !*r.Attempt.Passed || str(r.EarnedCertification.ExpiresOn) != "2022-06-15" {
			t.Fatalf("got %s, want passed and expiry 2022-06-15", asJSON(r))
		}
	})
	t.Run("survivor of another account: NOT_FOUND", func(t *testing.T) {
		h := newHolder(t, env, "leaver")
		h.link(t, env)
		other := newHolder(t, env, "keeper")
		other.link(t, env)
		e := h.earn(t, env, azureAdmin, "2020-06-15", "")
		a := start(t, env, h.who, e, "en")
		merge(t, env, other.profileID, h.profileID, "SURVIVOR")
		refusedSubmit(t, env, h.who, a, e, "NOT_FOUND", "2021-06-15")
	})
}

// TestSubmitRefusedWhenTheCatalogChangedMeanwhile: an admin changes the certification between
// start and submit (now fundamentals, which never expire and have no renewal programme; or
// released later, so renewal is not available yet): start's code, nothing written.
func TestSubmitRefusedWhenTheCatalogChangedMeanwhile(t *testing.T) {
	cases := []struct {
		name, code string
		change     func(in map[string]any)
	}{
		{"now fundamentals", "NOT_RENEWABLE", func(in map[string]any) { in["level"] = "FUNDAMENTALS" }},
		{"released later", "RENEWAL_NOT_AVAILABLE_YET", func(in map[string]any) { in["releasedOn"] = "2021-01-01" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := apitest.New(t)
			h := newHolder(t, env, "catalog")
			h.link(t, env)
			e := h.earn(t, env, azureAdmin, "2020-06-15", "")
			a := start(t, env, h.who, e, "en")
			in := certificationInput(t, env, azureAdmin)
			c.change(in)
			env.MustDo(apitest.Admin("root"), `mutation($in: UpsertCertificationInput!) {
  upsertCertification(input: $in) { certification { code } } }`, map[string]any{"in": in}, nil)
			refusedSubmit(t, env, h.who, a, e, c.code, "2021-06-15")
		})
	}
}

// certificationInput reads a certification through the API as an upsertCertification input.
func certificationInput(t *testing.T, env *apitest.Env, code string) map[string]any {
	t.Helper()
	var out struct {
		Certification struct {
			Code, Name, Level, ReleasedOn string
			RetiredOn                     *string
			Languages                     []string
			RequirementPaths              [][]struct{ Code string }
			Prerequisites                 []struct{ Code string }
		}
	}
	env.MustDo(apitest.Admin("root"), `query($code: String!) { certification(code: $code) {
  code name level releasedOn retiredOn languages requirementPaths { code } prerequisites { code } } }`,
		map[string]any{"code": code}, &out)
	c := out.Certification
	paths := [][]string{}
	for _, p := range c.RequirementPaths {
		var codes []string
		for _, e := range p {
			codes = append(codes, e.Code)
		}
		paths = append(paths, codes)
	}
	prereqs := []string{}
	for _, p := range c.Prerequisites {
		prereqs = append(prereqs, p.Code)
	}
	return map[string]any{"code": c.Code, "name": c.Name, "level": c.Level, "releasedOn": c.ReleasedOn,
		"retiredOn": c.RetiredOn, "languages": c.Languages, "requirementPaths": paths, "prerequisites": prereqs}
}

// TestSubmitRacingUnlinkNeverRenewsADisconnectedProfile: submit and unlink of the same
// profile at once, through the API against the real database.
//
// First the worst interleaving, forced without timing: the test holds the earned
// certification's row lock, so the submission waits at its first statement while the unlink
// commits; when the lock is released the submission must see the disconnection.
// Then rounds of a free race: whatever the order, the outcome is consistent (a renewal and its
// extension, or PROFILE_NOT_LINKED with nothing written), and nothing else (no deadlock, no
// INTERNAL) comes back.
func TestSubmitRacingUnlinkNeverRenewsADisconnectedProfile(t *testing.T) {
	// Lock waits here last as long as the other request takes on a busy machine.
	env := apitest.New(t, apitest.WithEnv(map[string]string{
		"DB_LOCK_TIMEOUT": "2m", "DB_STATEMENT_TIMEOUT": "2m", "REQUEST_TIMEOUT": "3m"}))
	setup := func(sub string) (holder, uuid.UUID, attemptOut, []map[string]any) {
		h := newHolder(t, env, sub)
		h.link(t, env)
		e := h.earn(t, env, azureAdmin, "2020-06-15", "")
		a := start(t, env, h.who, e, "en")
		return h, e, a, answers(t, env, a, len(a.Questions))
	}

	t.Run("unlink commits while the submission waits", func(t *testing.T) {
		h, e, a, ans := setup("held")
		tx, err := env.DB.Beginx()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`SELECT 1 FROM earned_certifications WHERE id = $1 FOR UPDATE`, e); err != nil {
			t.Fatal(err)
		}
		done := make(chan apitest.Response, 1)
		go func() { done <- env.Do(h.who, submitMutation, map[string]any{"id": a.ID, "answers": ans}) }()
		h.unlink(t, env) // takes no lock the test holds: it commits while the submission waits
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if len(r.Errors) == 0 || r.Errors[0].Code() != "PROFILE_NOT_LINKED" {
			t.Fatalf("got %s, want PROFILE_NOT_LINKED", r.Raw)
		}
		if got := expiresOn(t, env, e); got != "2021-06-15" {
			t.Fatalf("got expiry %s, want 2021-06-15: a disconnected profile was renewed", got)
		}
	})

	t.Run("free race", func(t *testing.T) {
		const rounds = 6
		renewed, refused := 0, 0
		for i := range rounds {
			h, e, a, ans := setup("free-" + string(rune('a'+i)))
			var sub, unl apitest.Response
			ready := make(chan struct{})
			finished := make(chan struct{}, 2)
			go func() {
				<-ready
				sub = env.Do(h.who, submitMutation, map[string]any{"id": a.ID, "answers": ans})
				finished <- struct{}{}
			}()
			go func() {
				<-ready
				unl = env.Do(h.who, unlinkMutation, map[string]any{"id": opaque("CertificationProfile", h.profileID)})
				finished <- struct{}{}
			}()
			close(ready)
			<-finished
			<-finished
			if len(unl.Errors) > 0 {
				t.Fatalf("round %d: unlink failed: %s", i, unl.Raw)
			}
			var renewals int
			if err := env.DB.Get(&renewals, `SELECT count(*) FROM renewals WHERE earned_certification_id = $1`, e); err != nil {
				t.Fatal(err)
			}
			got := expiresOn(t, env, e)
			switch {
			case len(sub.Errors) == 0 && got == "2022-06-15" && renewals == 1:
				renewed++ // the submission committed first; the unlink waited for it
			case len(sub.Errors) > 0 && sub.Errors[0].Code() == "PROFILE_NOT_LINKED" && got == "2021-06-15" && renewals == 0:
				refused++
			default:
				t.Fatalf("round %d: submission %s, expiry %s, %d renewals: inconsistent", i, sub.Raw, got, renewals)
			}
		}
		t.Logf("%d renewed before the unlink, %d refused after it", renewed, refused)
	})
}
