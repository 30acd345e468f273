package renewal_test

import (
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

const recordResult = `mutation($mcid: String!, $exam: String!, $at: DateTime!, $ext: String!) {
  recordExamResult(input: {mcid: $mcid, examCode: $exam, passed: true, score: 800, takenAt: $at, externalId: $ext}) {
    examResult { id } earnedCertifications { certification { code } earnedOn } } }`

type recorded struct {
	RecordExamResult struct {
		EarnedCertifications []struct {
			Certification struct{ Code string }
			EarnedOn      string
		}
	}
}

const upsertExamRetired = `mutation($on: Date) { upsertExam(input: {code: "AZ-103", title: "Microsoft Azure Administrator",
  languages: ["en", "ja"], retiredOn: $on}) { exam { code retiredOn } } }`

// upsertAdminCert re-saves the shipped Azure Administrator Associate with the given retiredOn
// (nil clears it), the way a catalog admin does.
func upsertAdminCert(t *testing.T, env *apitest.Env, retiredOn any) *string {
	t.Helper()
	var out struct {
		UpsertCertification struct{ Certification struct{ RetiredOn *string } }
	}
	env.MustDo(apitest.Admin("catalog"), `mutation($on: Date) { upsertCertification(input: {
  code: "azure-administrator-associate", name: "Microsoft Certified: Azure Administrator Associate",
  level: ASSOCIATE, releasedOn: "2019-05-06", retiredOn: $on, languages: ["en", "ja"],
  requirementPaths: [["AZ-104"], ["AZ-103"]]}) { certification { retiredOn } } }`, map[string]any{"on": retiredOn}, &out)
	return out.UpsertCertification.Certification.RetiredOn
}

// An exam result taken after its exam's retirement date is refused with BAD_USER_INPUT naming
// the date; one taken on that date is recorded; clearing retiredOn accepts it again.
func TestExamResultAfterRetirementIsRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	env.Clock.Set(at("2021-03-01T09:00:00Z"))
	h := newHolder(t, env, "retired-exam")
	var ex struct {
		UpsertExam struct{ Exam struct{ RetiredOn *string } }
	}
	env.MustDo(apitest.Admin("catalog"), upsertExamRetired, map[string]any{"on": "2021-01-31"}, &ex)
	if str(ex.UpsertExam.Exam.RetiredOn) != "2021-01-31" {
		t.Fatalf("got exam retiredOn %v, want 2021-01-31", ex.UpsertExam.Exam.RetiredOn)
	}
	vars := map[string]any{"mcid": h.mcid, "exam": "AZ-103", "at": "2021-02-01T08:00:00Z", "ext": "late-1"}
	e := env.MustFail(apitest.ExamDelivery(), recordResult, vars, "BAD_USER_INPUT")
	if e.Extensions["retiredOn"] != "2021-01-31" ||
		!strings.Contains(e.Message, "2021-01-31") {
		t.Fatalf("got %q %v, want the message and extensions.retiredOn to name 2021-01-31", e.Message, e.Extensions)
	}
	var ok recorded
	env.MustDo(apitest.ExamDelivery(), recordResult, map[string]any{"mcid": h.mcid, "exam": "AZ-103",
		"at": "2021-01-31T18:00:00Z", "ext": "on-time-1"}, &ok)
	if len(ok.RecordExamResult.EarnedCertifications) != 1 {
		t.Fatalf("got %+v, want the result of the retirement date to earn the certification", ok)
	}

	env.MustDo(apitest.Admin("catalog"), upsertExamRetired, map[string]any{"on": nil}, &ex)
	if ex.UpsertExam.Exam.RetiredOn != nil {
		t.Fatalf("got exam retiredOn %v after clearing, want null", *ex.UpsertExam.Exam.RetiredOn)
	}
	env.MustDo(apitest.ExamDelivery(), recordResult, vars, nil)
}

// A retired certification: earned records stay valid until they expire, but it is not earned
// after its retirement date, not renewable (NOT_RENEWABLE with extensions.retiredOn, and
// RenewalStatus.retiredOn), and clearing retiredOn restores renewal.
func TestRetiredCertificationIsNotEarnedNorRenewed(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	env.Clock.Set(at("2021-04-01T09:00:00Z"))
	h := newHolder(t, env, "retired-cert")
	h.link(t, env)
	earned := h.earn(t, env, "azure-administrator-associate", "2020-08-31", "") // expires 2021-08-31
	if got := upsertAdminCert(t, env, "2021-04-30"); str(got) != "2021-04-30" {
		t.Fatalf("got retiredOn %v, want 2021-04-30", got)
	}

	statusQuery := `query($id: ID!) { node(id: $id) { ... on EarnedCertification { status expiresOn
  renewal { eligible reason retiredOn deadline } } } }`
	type statusOut struct {
		Node struct {
			Status, ExpiresOn string
			Renewal           struct {
				Eligible          bool
				Reason, RetiredOn *string
				Deadline          *string
			}
		}
	}
	var st statusOut
	env.MustDo(h.who, statusQuery, map[string]any{"id": opaque("EarnedCertification", earned)}, &st)
	if !st.Node.Renewal.Eligible || str(st.Node.Renewal.RetiredOn) != "2021-04-30" {
		t.Fatalf("on 2021-04-01: got %+v, want eligible with retiredOn 2021-04-30", st.Node.Renewal)
	}

	env.Clock.Set(at("2021-05-01T09:00:00Z"))
	env.MustDo(h.who, statusQuery, map[string]any{"id": opaque("EarnedCertification", earned)}, &st)
	if st.Node.Renewal.Eligible || str(st.Node.Renewal.Reason) != "NOT_RENEWABLE" ||
		str(st.Node.Renewal.RetiredOn) != "2021-04-30" || st.Node.Status == "EXPIRED" || st.Node.ExpiresOn != "2021-08-31" {
		t.Fatalf("on 2021-05-01: got %+v, want still valid until 2021-08-31, NOT_RENEWABLE, retiredOn 2021-04-30", st.Node)
	}
	e := startFails(t, env, h.who, earned, "en", "NOT_RENEWABLE")
	if e.Extensions["retiredOn"] != "2021-04-30" {
		t.Fatalf("got extensions %v, want retiredOn 2021-04-30", e.Extensions)
	}

	// Not earned after retirement by another learner passing AZ-104 now; a late result
	// dated on the retirement day still earns.
	other := newHolder(t, env, "retired-cert-2")
	var rec recorded
	env.MustDo(apitest.ExamDelivery(), recordResult, map[string]any{"mcid": other.mcid, "exam": "AZ-104",
		"at": "2021-05-01T08:00:00Z", "ext": "after-retirement"}, &rec)
	if n := len(rec.RecordExamResult.EarnedCertifications); n != 0 {
		t.Fatalf("got %d earned certifications from a pass after retirement, want 0", n)
	}
	third := newHolder(t, env, "retired-cert-3")
	env.MustDo(apitest.ExamDelivery(), recordResult, map[string]any{"mcid": third.mcid, "exam": "AZ-104",
		"at": "2021-04-30T08:00:00Z", "ext": "on-retirement-day"}, &rec)
	if got := rec.RecordExamResult.EarnedCertifications; len(got) != 1 || got[0].EarnedOn != "2021-04-30" {
		t.Fatalf("got %+v, want earned on 2021-04-30", got)
	}

	if got := upsertAdminCert(t, env, nil); got != nil {
		t.Fatalf("got retiredOn %v after clearing, want null", *got)
	}
	start(t, env, h.who, earned, "en")
}
