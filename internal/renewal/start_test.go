package renewal_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
)

const (
	azureAdmin = "azure-administrator-associate"     // en ja de fr es ko zh-Hans pt-BR
	messaging  = "messaging-administrator-associate" // en ja ko zh-Hans
	devops     = "devops-engineer-expert"
)

// insertCertification adds a certification with SQL (fixture: upsertCertification is built
// elsewhere), with no renewal assessment.
func insertCertification(t *testing.T, env *apitest.Env, code, level, releasedOn string) {
	t.Helper()
	if _, err := env.DB.Exec(`
INSERT INTO certifications (code, name, level, released_on, languages, updated_at)
VALUES ($1, 'Test ' || $1, $2, $3, '{en,ja}', $4)`, code, level, releasedOn, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

const publishMutation = `mutation($in: PublishRenewalAssessmentInput!) {
  publishRenewalAssessment(input: $in) { renewalAssessment {
    id version languages passingScore questionCount learningModules { title url } certification { code } } } }`

type publishedOut struct {
	ID              string
	Version         int
	Languages       []string
	PassingScore    int
	QuestionCount   int
	LearningModules []struct{ Title, URL string }
	Certification   struct{ Code string }
}

// bank builds n questions "<prefix> question i" with three choices, the second correct.
func bank(prefix string, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{
			"prompt": prefix + " question " + string(rune('A'+i)),
			"choices": []map[string]any{
				{"text": "first option", "correct": false},
				{"text": "second option", "correct": true},
				{"text": "third option", "correct": false},
			},
		}
	}
	return out
}

func publish(t *testing.T, env *apitest.Env, in map[string]any) publishedOut {
	t.Helper()
	var out struct {
		PublishRenewalAssessment struct{ RenewalAssessment publishedOut }
	}
	env.MustDo(apitest.Admin("catalog-admin"), publishMutation, map[string]any{"in": in}, &out)
	return out.PublishRenewalAssessment.RenewalAssessment
}

// TestStartRefusals covers every refusal of startRenewalAssessment through the API, with the
// exact extensions, and the order the rules are checked in.
func TestStartRefusals(t *testing.T) {
	env := apitest.New(t) // clock: 2021-03-01T09:00Z
	alice := newHolder(t, env, "alice")
	alice.link(t, env)
	bob := newHolder(t, env, "bob")                              // never linked
	inWindow := alice.earn(t, env, azureAdmin, "2020-06-15", "") // expires 2021-06-15, window opened 2020-12-15

	t.Run("UNAUTHENTICATED without a token", func(t *testing.T) {
		startFails(t, env, apitest.Anonymous, inWindow, "en", "UNAUTHENTICATED")
	})
	t.Run("NOT_FOUND for someone else's certification", func(t *testing.T) {
		startFails(t, env, bob.who, inWindow, "en", "NOT_FOUND")
	})
	t.Run("NOT_FOUND for an unknown id", func(t *testing.T) {
		startFails(t, env, alice.who, uuid.New(), "en", "NOT_FOUND")
	})
	t.Run("NOT_FOUND for an id of another type", func(t *testing.T) {
		env.MustFail(alice.who, startMutation, map[string]any{"id": opaque("AssessmentAttempt", inWindow), "lang": "en"}, "NOT_FOUND")
	})
	t.Run("BAD_USER_INPUT for a malformed id", func(t *testing.T) {
		env.MustFail(alice.who, startMutation, map[string]any{"id": "not-an-id", "lang": "en"}, "BAD_USER_INPUT")
	})
	t.Run("FORBIDDEN for support: only the holder starts", func(t *testing.T) {
		startFails(t, env, apitest.Support("agent"), inWindow, "en", "FORBIDDEN")
	})
	t.Run("NOT_RENEWABLE for fundamentals", func(t *testing.T) {
		e := alice.earn(t, env, "azure-fundamentals", "2020-06-15", "")
		startFails(t, env, alice.who, e, "en", "NOT_RENEWABLE")
	})
	t.Run("NOT_RENEWABLE without a renewal assessment", func(t *testing.T) {
		insertCertification(t, env, "iot-developer-specialty", "SPECIALTY", "2019-01-07")
		e := alice.earn(t, env, "iot-developer-specialty", "2020-06-15", "")
		startFails(t, env, alice.who, e, "en", "NOT_RENEWABLE")
	})
	t.Run("NOT_RENEWABLE for a superseded record", func(t *testing.T) {
		current := alice.earn(t, env, "azure-ai-engineer-associate", "2020-07-01", "")
		old := alice.earn(t, env, "azure-ai-engineer-associate", "2020-06-01", "")
		if _, err := env.DB.Exec(`UPDATE earned_certifications SET superseded_at = $2, superseded_by = $3 WHERE id = $1`,
			old, env.Clock.Now(), current); err != nil {
			t.Fatal(err)
		}
		startFails(t, env, alice.who, old, "en", "NOT_RENEWABLE")
	})
	t.Run("RENEWAL_NOT_AVAILABLE_YET less than 6 months after release", func(t *testing.T) {
		insertCertification(t, env, "new-platform-engineer-associate", "ASSOCIATE", "2020-12-01")
		publish(t, env, map[string]any{"certificationCode": "new-platform-engineer-associate", "questions": bank("NP", 4)})
		e := alice.earn(t, env, "new-platform-engineer-associate", "2020-12-10", "") // window would open 2021-06-10
		err := startFails(t, env, alice.who, e, "en", "RENEWAL_NOT_AVAILABLE_YET")
		if got := err.Extensions["availableFrom"]; got != "2021-06-01" {
			t.Errorf("got availableFrom %v, want 2021-06-01", got)
		}
		env.Clock.Set(at("2021-06-10T00:00:00Z"))
		defer env.Clock.Set(apitest.Start)
		if a := start(t, env, alice.who, e, "en"); len(a.Questions) != 4 {
			t.Errorf("once available and in the window: got %d questions, want 4", len(a.Questions))
		}
	})
	t.Run("CERTIFICATION_EXPIRED on the expiry date", func(t *testing.T) {
		e := alice.earn(t, env, "azure-security-engineer-associate", "2020-03-01", "") // expires today
		startFails(t, env, alice.who, e, "en", "CERTIFICATION_EXPIRED")
	})
	t.Run("CERTIFICATION_EXPIRED comes before PROFILE_NOT_LINKED", func(t *testing.T) {
		e := bob.earn(t, env, azureAdmin, "2020-02-15", "")
		startFails(t, env, bob.who, e, "en", "CERTIFICATION_EXPIRED")
	})
	t.Run("RENEWAL_WINDOW_NOT_OPEN with windowOpensOn", func(t *testing.T) {
		e := alice.earn(t, env, "azure-data-engineer-associate", "2020-10-01", "") // expires 2021-10-01
		err := startFails(t, env, alice.who, e, "en", "RENEWAL_WINDOW_NOT_OPEN")
		if got := err.Extensions["windowOpensOn"]; got != "2021-04-01" {
			t.Errorf("got windowOpensOn %v, want 2021-04-01", got)
		}
	})
	t.Run("RENEWAL_WINDOW_NOT_OPEN comes before PROFILE_NOT_LINKED", func(t *testing.T) {
		e := bob.earn(t, env, "azure-data-engineer-associate", "2020-10-01", "")
		err := startFails(t, env, bob.who, e, "en", "RENEWAL_WINDOW_NOT_OPEN")
		if got := err.Extensions["windowOpensOn"]; got != "2021-04-01" {
			t.Errorf("got windowOpensOn %v, want 2021-04-01", got)
		}
	})
	t.Run("PROFILE_NOT_LINKED", func(t *testing.T) {
		e := bob.earn(t, env, azureAdmin, "2020-06-15", "")
		startFails(t, env, bob.who, e, "en", "PROFILE_NOT_LINKED")
		startFails(t, env, bob.who, e, "xx", "PROFILE_NOT_LINKED") // before the language
	})
	t.Run("LANGUAGE_NOT_AVAILABLE lists the offered languages", func(t *testing.T) {
		// MS-203 is offered in en, ja, ko and zh-Hans: a version with text in all of them.
		publish(t, env, map[string]any{"certificationCode": messaging, "questions": translate(bank("Msg", 10), "ja", "ko", "zh-Hans")})
		e := alice.earn(t, env, messaging, "2020-06-15", "")
		err := startFails(t, env, alice.who, e, "de", "LANGUAGE_NOT_AVAILABLE")
		want := []any{"en", "ja", "ko", "zh-Hans"}
		if got := err.Extensions["availableLanguages"]; !reflect.DeepEqual(got, want) {
			t.Errorf("got availableLanguages %v, want %v", got, want)
		}
		if a := start(t, env, alice.who, e, "zh-hans"); a.Language != "zh-Hans" {
			t.Errorf("got language %q, want the offered spelling zh-Hans", a.Language)
		}
	})
	t.Run("ATTEMPT_IN_PROGRESS names the attempt", func(t *testing.T) {
		a := start(t, env, alice.who, inWindow, "en")
		if a.AssessmentVersion != 1 || a.Language != "en" || a.SubmittedAt != nil || a.Score != nil || a.Passed != nil {
			t.Fatalf("got %+v, want a fresh version 1 attempt in en", a)
		}
		if len(a.Questions) != 8 {
			t.Fatalf("got %d questions, want the version's 8", len(a.Questions))
		}
		if a.StartedAt != "2021-03-01T09:00:00Z" {
			t.Errorf("got startedAt %s, want 2021-03-01T09:00:00Z", a.StartedAt)
		}
		err := startFails(t, env, alice.who, inWindow, "ja", "ATTEMPT_IN_PROGRESS")
		if got := err.Extensions["attemptId"]; got != a.ID {
			t.Errorf("got attemptId %v, want %s", got, a.ID)
		}
	})
}

// TestRetakeSequence: fail, immediate retry, fail, third refused with the exact retryAt,
// allowed 24 h after the second submission, and the wait applies to every later attempt.
func TestRetakeSequence(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "retaker")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")

	a1 := start(t, env, h.who, e, "en")
	env.Clock.Advance(20 * time.Minute)
	r1 := submit(t, env, h.who, a1.ID, answers(t, env, a1, 0))
	if r1.Attempt.Passed == nil || *r1.Attempt.Passed || *r1.Attempt.Score != 0 {
		t.Fatalf("first attempt: got %s, want failed with 0", asJSON(r1.Attempt))
	}
	if st := r1.EarnedCertification.Renewal; !st.Eligible || st.AttemptsThisCycle != 1 || st.NextAttemptAt != nil {
		t.Fatalf("after one failure: got %s, want eligible, 1 attempt, no wait", asJSON(st))
	}

	a2 := start(t, env, h.who, e, "ja") // at once
	if a2.Language != "ja" {
		t.Errorf("got language %s, want ja", a2.Language)
	}
	env.Clock.Advance(30 * time.Minute) // 2021-03-01T09:50Z
	r2 := submit(t, env, h.who, a2.ID, answers(t, env, a2, 1))
	if *r2.Attempt.Passed || *r2.Attempt.Score != 12 {
		t.Fatalf("second attempt: got %s, want failed with 12 (1 of 8 rounded down)", asJSON(r2.Attempt))
	}
	const retryAt = "2021-03-02T09:50:00Z"
	st := r2.EarnedCertification.Renewal
	if st.Eligible || str(st.Reason) != "RETAKE_WAIT" || st.AttemptsThisCycle != 2 || str(st.NextAttemptAt) != retryAt {
		t.Fatalf("after two failures: got %s, want RETAKE_WAIT, 2 attempts, next %s", asJSON(st), retryAt)
	}

	env.Clock.Set(at(retryAt).Add(-time.Second))
	err := startFails(t, env, h.who, e, "en", "RETAKE_WAIT")
	if got := err.Extensions["retryAt"]; got != retryAt {
		t.Fatalf("got retryAt %v, want %s", got, retryAt)
	}

	env.Clock.Set(at(retryAt))
	a3 := start(t, env, h.who, e, "en")
	env.Clock.Advance(time.Hour)
	submit(t, env, h.who, a3.ID, answers(t, env, a3, 0))
	env.Clock.Advance(23 * time.Hour)
	err = startFails(t, env, h.who, e, "en", "RETAKE_WAIT")
	if got, want := err.Extensions["retryAt"], "2021-03-03T10:50:00Z"; got != want {
		t.Fatalf("fourth attempt: got retryAt %v, want %s", got, want)
	}
	env.Clock.Set(at("2021-03-03T10:50:00Z"))
	a4 := start(t, env, h.who, e, "en")

	got := earnedViaAttempt(t, env, h.who, a4.ID)
	if len(got.Attempts) != 4 || got.Attempts[0].ID != a1.ID || got.Attempts[3].ID != a4.ID || got.Attempts[3].Score != nil {
		t.Errorf("got attempts %s, want a1..a4 oldest first, the last in progress", asJSON(got.Attempts))
	}
	if got.Renewal.AttemptsThisCycle != 4 || str(got.Renewal.Reason) != "ATTEMPT_IN_PROGRESS" {
		t.Errorf("got %s, want 4 attempts this cycle, ATTEMPT_IN_PROGRESS", asJSON(got.Renewal))
	}
}

// TestUnlinkStopsRenewal: after the owner disconnects, starting is refused with
// PROFILE_NOT_LINKED until the profiles are connected again (docs/domain.md "Connecting").
func TestUnlinkStopsRenewal(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "unlinker")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")
	env.MustDo(h.who, `mutation($id: ID!) { unlinkCertificationProfile(input: {certificationProfileId: $id}) {
  certificationProfile { id } } }`, map[string]any{"id": opaque("CertificationProfile", h.profileID)}, nil)
	startFails(t, env, h.who, e, "en", "PROFILE_NOT_LINKED")
	h.link(t, env)
	if a := start(t, env, h.who, e, "en"); a.ID == "" {
		t.Fatal("got no attempt after relinking, want one")
	}
}
