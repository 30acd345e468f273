package catalog_test

import (
	"encoding/json"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

const publishAssessment = `mutation($in: PublishRenewalAssessmentInput!) {
  publishRenewalAssessment(input: $in) { renewalAssessment { id version passingScore questionCount certification { code } } } }`

const currentAssessment = `query($code: String!) { certification(code: $code) {
  renewalAssessment { id version passingScore questionCount } } }`

type assessmentOut struct {
	ID            string
	Version       int
	PassingScore  int
	QuestionCount int
	Certification *struct{ Code string }
}

func current(t *testing.T, env *apitest.Env, code string) assessmentOut {
	t.Helper()
	var out struct {
		Certification struct{ RenewalAssessment assessmentOut }
	}
	env.MustDo(apitest.Anonymous, currentAssessment, map[string]any{"code": code}, &out)
	return out.Certification.RenewalAssessment
}

// TestPublishRenewalAssessmentThroughTheAPI: publishing is for catalog admins only (anyone else
// is refused and nothing changes); the admin's version becomes the certification's current
// assessment, and an audit event names the admin and the certification.
func TestPublishRenewalAssessmentThroughTheAPI(t *testing.T) {
	env := apitest.New(t)
	const code = "azure-administrator-associate" // ships with assessment version 1
	question := func(prompt string) map[string]any {
		return map[string]any{"prompt": prompt, "choices": []map[string]any{
			{"text": "yes", "correct": true}, {"text": "no", "correct": false}}}
	}
	vars := map[string]any{"in": map[string]any{"certificationCode": code, "passingScore": 70, "questionsPerAttempt": 2,
		"questions": []map[string]any{question("Is RBAC scoped?"), question("Do role assignments inherit?"), question("Is MFA per user?")}}}

	fails(t, env, apitest.Anonymous, publishAssessment, vars, "UNAUTHENTICATED")
	for _, who := range []apitest.Identity{apitest.Learner("alice"), apitest.Support("agent"), apitest.ExamDelivery(), apitest.Work("wendy")} {
		fails(t, env, who, publishAssessment, vars, "FORBIDDEN")
	}
	before := current(t, env, code)
	if before.Version != 1 {
		t.Fatalf("after the refusals the current version is %d, want the shipped 1", before.Version)
	}
	if rows := audits(t, env); len(rows) != 0 {
		t.Fatalf("refusals wrote audit events: %+v", rows)
	}

	var out struct {
		PublishRenewalAssessment struct{ RenewalAssessment assessmentOut }
	}
	env.MustDo(admin, publishAssessment, vars, &out)
	got := out.PublishRenewalAssessment.RenewalAssessment
	if got.Version != 2 || got.PassingScore != 70 || got.QuestionCount != 2 || got.Certification == nil || got.Certification.Code != code {
		t.Fatalf("published %+v, want version 2 of %s, passing 70, 2 served", got, code)
	}
	now := current(t, env, code)
	if now.ID != got.ID || now.ID == before.ID || now.Version != 2 || now.PassingScore != 70 {
		t.Errorf("current assessment is %+v, want the published %+v", now, got)
	}

	rows := audits(t, env)
	if len(rows) != 1 || rows[0].Action != "catalog.publishRenewalAssessment" || rows[0].Actor != apitest.Issuer+"|root" {
		t.Fatalf("got audit events %+v, want one catalog.publishRenewalAssessment by the admin", rows)
	}
	var details map[string]any
	if err := json.Unmarshal(rows[0].Details, &details); err != nil || details["certificationCode"] != code {
		t.Errorf("got audit details %s (%v), want the certification code %s", rows[0].Details, err, code)
	}
}
