package renewal_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// opaque builds a Node id the way graph/ids.go does (tests live outside the graph package).
func opaque(kind string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id.String()))
}

func unopaque(t *testing.T, s string) uuid.UUID {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("id %q is not opaque base64: %v", s, err)
	}
	_, rest, _ := strings.Cut(string(raw), ":")
	id, err := uuid.Parse(rest)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return id
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// holder is a learner with a certification profile.
type holder struct {
	who       apitest.Identity
	profileID uuid.UUID
	mcid      string
}

const createProfile = `mutation($n: String!, $e: String!) {
  createCertificationProfile(input: {legalName: $n, email: $e}) { certificationProfile { id mcid } } }`

// newHolder creates a certification profile for a new personal account through the API.
func newHolder(t *testing.T, env *apitest.Env, sub string) holder {
	t.Helper()
	who := apitest.Learner(sub)
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile struct{ ID, MCID string } }
	}
	env.MustDo(who, createProfile, map[string]any{"n": "Learner " + sub, "e": sub + "@example.com"}, &out)
	p := out.CreateCertificationProfile.CertificationProfile
	return holder{who: who, profileID: unopaque(t, p.ID), mcid: p.MCID}
}

// link connects the holder's certification profile to its Learn profile through the API.
func (h holder) link(t *testing.T, env *apitest.Env) {
	t.Helper()
	env.MustDo(h.who, `mutation($id: ID!) { linkCertificationProfile(input: {certificationProfileId: $id}) {
  certificationProfile { id } } }`, map[string]any{"id": opaque("CertificationProfile", h.profileID)}, nil)
}

// earn records an earned certification with SQL (fixture): expires one year after earnedOn
// unless expiresOn is given; fundamentals never expire.
func (h holder) earn(t *testing.T, env *apitest.Env, code, earnedOn, expiresOn string) uuid.UUID {
	t.Helper()
	var level string
	if err := env.DB.Get(&level, `SELECT level FROM certifications WHERE code = $1`, code); err != nil {
		t.Fatalf("certification %s: %v", code, err)
	}
	var exp any
	if level != "FUNDAMENTALS" {
		if expiresOn == "" {
			expiresOn = date.MustParse(earnedOn).AddYears(1).String()
		}
		exp = expiresOn
	}
	var id uuid.UUID
	if err := env.DB.Get(&id, `
INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT $1, c.id, $3, $4, $5 FROM certifications c WHERE c.code = $2 RETURNING id`,
		h.profileID, code, earnedOn, exp, env.Clock.Now()); err != nil {
		t.Fatalf("earn %s: %v", code, err)
	}
	return id
}

func expiresOn(t *testing.T, env *apitest.Env, earned uuid.UUID) string {
	t.Helper()
	var d date.Date
	if err := env.DB.Get(&d, `SELECT expires_on FROM earned_certifications WHERE id = $1`, earned); err != nil {
		t.Fatal(err)
	}
	return d.String()
}

type choiceOut struct{ ID, Text string }

type questionOut struct {
	ID              string
	Prompt          string
	MultipleAnswers bool
	Choices         []choiceOut
}

type attemptOut struct {
	ID                string
	AssessmentVersion int
	Language          string
	StartedAt         string
	SubmittedAt       *string
	Score             *int
	Passed            *bool
	Questions         []questionOut
}

const attemptFields = `id assessmentVersion language startedAt submittedAt score passed
  questions { id prompt multipleAnswers choices { id text } }`

const startMutation = `mutation($id: ID!, $lang: String!) {
  startRenewalAssessment(input: {earnedCertificationId: $id, language: $lang}) { attempt { ` + attemptFields + ` } } }`

func start(t *testing.T, env *apitest.Env, who apitest.Identity, earned uuid.UUID, lang string) attemptOut {
	t.Helper()
	var out struct{ StartRenewalAssessment struct{ Attempt attemptOut } }
	env.MustDo(who, startMutation, map[string]any{"id": opaque("EarnedCertification", earned), "lang": lang}, &out)
	return out.StartRenewalAssessment.Attempt
}

func startFails(t *testing.T, env *apitest.Env, who apitest.Identity, earned uuid.UUID, lang, code string) apitest.Error {
	t.Helper()
	return env.MustFail(who, startMutation, map[string]any{"id": opaque("EarnedCertification", earned), "lang": lang}, code)
}

type statusOut struct {
	Eligible          bool
	Reason            *string
	WindowOpensOn     *string
	Deadline          *string
	AttemptsThisCycle int
	NextAttemptAt     *string
}

type renewalOut struct {
	RenewedAt         string
	PreviousExpiresOn string
	NewExpiresOn      string
	Attempt           struct{ ID string }
}

type earnedOut struct {
	ExpiresOn *string
	Renewal   statusOut
	Renewals  []renewalOut
	Attempts  []struct {
		ID     string
		Score  *int
		Passed *bool
	}
}

const earnedFields = `expiresOn
  renewal { eligible reason windowOpensOn deadline attemptsThisCycle nextAttemptAt }
  renewals { renewedAt previousExpiresOn newExpiresOn attempt { id } }
  attempts { id score passed }`

const submitMutation = `mutation($id: ID!, $answers: [AnswerInput!]!) {
  submitRenewalAssessment(input: {attemptId: $id, answers: $answers}) {
    attempt { ` + attemptFields + ` }
    earnedCertification { ` + earnedFields + ` } } }`

type submitOut struct {
	Attempt             attemptOut
	EarnedCertification earnedOut
}

func submit(t *testing.T, env *apitest.Env, who apitest.Identity, attemptID string, answers []map[string]any) submitOut {
	t.Helper()
	var out struct{ SubmitRenewalAssessment submitOut }
	env.MustDo(who, submitMutation, map[string]any{"id": attemptID, "answers": answers}, &out)
	return out.SubmitRenewalAssessment
}

const attemptNode = `query($id: ID!) { node(id: $id) { ... on AssessmentAttempt { ` + attemptFields + `
  earnedCertification { ` + earnedFields + ` } } } }`

type attemptNodeOut struct {
	Node *struct {
		attemptOut
		EarnedCertification earnedOut
	}
}

// earnedViaAttempt reads an earned certification through one of its attempts.
func earnedViaAttempt(t *testing.T, env *apitest.Env, who apitest.Identity, attemptID string) earnedOut {
	t.Helper()
	var out attemptNodeOut
	env.MustDo(who, attemptNode, map[string]any{"id": attemptID}, &out)
	if out.Node == nil {
		t.Fatalf("node(%s) is null for %s, want the attempt", attemptID, who.Subject)
	}
	return out.Node.EarnedCertification
}

// answerKey reads, straight from the database, the correct choices of each question served
// to an attempt: the test's own knowledge, never the API's.
func answerKey(t *testing.T, env *apitest.Env, attemptID string) map[string][]string {
	t.Helper()
	rows, err := env.DB.Query(`
SELECT aq.question_id::text, ARRAY(SELECT c.id::text FROM assessment_choices c WHERE c.question_id = aq.question_id AND c.correct)
FROM attempt_questions aq WHERE aq.attempt_id = $1`, unopaque(t, attemptID))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	key := map[string][]string{}
	for rows.Next() {
		var q string
		var cs pq.StringArray
		if err := rows.Scan(&q, &cs); err != nil {
			t.Fatal(err)
		}
		key[q] = cs
	}
	return key
}

// answers answers the first `right` served questions correctly and the others with one wrong
// choice.
func answers(t *testing.T, env *apitest.Env, a attemptOut, right int) []map[string]any {
	t.Helper()
	key := answerKey(t, env, a.ID)
	out := make([]map[string]any, 0, len(a.Questions))
	for i, q := range a.Questions {
		correct := key[q.ID]
		if len(correct) == 0 {
			t.Fatalf("question %s has no key", q.ID)
		}
		choices := correct
		if i >= right {
			for _, c := range q.Choices {
				if !contains(correct, c.ID) {
					choices = []string{c.ID}
					break
				}
			}
		}
		out = append(out, map[string]any{"questionId": q.ID, "choiceIds": choices})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func asJSONInto(raw []byte, out any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, out)
}
