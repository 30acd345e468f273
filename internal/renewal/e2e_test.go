package renewal_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
)

const recordMutation = `mutation($in: RecordExamResultInput!) { recordExamResult(input: $in) {
  examResult { id } earnedCertifications { id expiresOn certification { code } } } }`

type recordedOut struct {
	EarnedCertifications []struct {
		ID            string
		ExpiresOn     *string
		Certification struct{ Code string }
	}
}

func recordPass(t *testing.T, env *apitest.Env, mcid, exam, takenAt string) recordedOut {
	t.Helper()
	var out struct{ RecordExamResult recordedOut }
	env.MustDo(apitest.ExamDelivery(), recordMutation, map[string]any{"in": map[string]any{
		"mcid": mcid, "examCode": exam, "passed": true, "score": 800, "takenAt": takenAt,
		"externalId": exam + "/" + mcid + "/" + takenAt}}, &out)
	return out.RecordExamResult
}

const profileCertsQuery = `query($mcid: String!) { certificationProfile(mcid: $mcid) { certifications(first: 10) { nodes {
  id status certification { code } ` + earnedFields + ` } } } }`

type profileEarnedOut struct {
	ID            string
	Status        string
	Certification struct{ Code string }
	earnedOut
}

func profileCerts(t *testing.T, env *apitest.Env, who apitest.Identity, mcid string) []profileEarnedOut {
	t.Helper()
	var out struct {
		CertificationProfile struct {
			Certifications struct{ Nodes []profileEarnedOut }
		}
	}
	env.MustDo(who, profileCertsQuery, map[string]any{"mcid": mcid}, &out)
	return out.CertificationProfile.Certifications.Nodes
}

// TestEndToEnd drives the whole journey through the real mutations: a profile, an exam result
// from exam delivery, the renewal status before and after connecting, a newer exam version
// that does not extend, an attempt that fails, one that passes and extends from the current
// expiry, and what support sees.
func TestEndToEnd(t *testing.T) {
	env := apitest.New(t) // 2021-03-01T09:00Z
	ada := newHolder(t, env, "ada")

	rec := recordPass(t, env, ada.mcid, "AZ-103", "2020-06-15T10:00:00Z")
	if len(rec.EarnedCertifications) != 1 || str(rec.EarnedCertifications[0].ExpiresOn) != "2021-06-15" {
		t.Fatalf("got %s, want azure-administrator-associate expiring 2021-06-15", asJSON(rec))
	}
	earnedID := rec.EarnedCertifications[0].ID
	e := unopaque(t, earnedID)

	certs := profileCerts(t, env, ada.who, ada.mcid)
	st := certs[0].Renewal
	if certs[0].Status != "RENEWABLE" || st.Eligible || str(st.Reason) != "PROFILE_NOT_LINKED" ||
		str(st.WindowOpensOn) != "2020-12-15" || str(st.Deadline) != "2021-06-15" || st.AttemptsThisCycle != 0 || st.NextAttemptAt != nil {
		t.Fatalf("before connecting: got %s %s, want RENEWABLE, PROFILE_NOT_LINKED, window 2020-12-15, deadline 2021-06-15",
			certs[0].Status, asJSON(st))
	}
	startFails(t, env, ada.who, e, "en", "PROFILE_NOT_LINKED")

	ada.link(t, env)
	if st := profileCerts(t, env, ada.who, ada.mcid)[0].Renewal; !st.Eligible || st.Reason != nil {
		t.Fatalf("after connecting: got %s, want eligible", asJSON(st))
	}

	// Passing the newer exam version (AZ-104 supersedes AZ-103) while held never extends.
	if again := recordPass(t, env, ada.mcid, "AZ-104", "2021-02-01T10:00:00Z"); len(again.EarnedCertifications) != 0 {
		t.Fatalf("newer exam version: got %s, want nothing newly earned", asJSON(again))
	}
	if got := expiresOn(t, env, e); got != "2021-06-15" {
		t.Fatalf("newer exam version: got expiry %s, want 2021-06-15 unchanged", got)
	}

	a1 := start(t, env, ada.who, e, "ja")
	if r := submit(t, env, ada.who, a1.ID, answers(t, env, a1, 2)); *r.Attempt.Passed || *r.Attempt.Score != 25 {
		t.Fatalf("got %s, want failed with 25", asJSON(r.Attempt))
	}
	a2 := start(t, env, ada.who, e, "en")
	r := submit(t, env, ada.who, a2.ID, answers(t, env, a2, 6)) // 75
	if !*r.Attempt.Passed || *r.Attempt.Score != 75 || str(r.EarnedCertification.ExpiresOn) != "2022-06-15" {
		t.Fatalf("got %s, want passed with 75 and expiry 2022-06-15", asJSON(r))
	}

	// A retake of the exam after the renewal changes nothing either.
	recordPass(t, env, ada.mcid, "AZ-104", "2021-03-01T08:00:00Z")
	if got := expiresOn(t, env, e); got != "2022-06-15" {
		t.Fatalf("exam retake: got expiry %s, want 2022-06-15", got)
	}

	for _, who := range []apitest.Identity{ada.who, apitest.Support("agent")} {
		c := profileCerts(t, env, who, ada.mcid)[0]
		if c.ID != earnedID || c.Status != "ACTIVE" || str(c.Renewal.Reason) != "RENEWAL_WINDOW_NOT_OPEN" ||
			str(c.Renewal.WindowOpensOn) != "2021-12-15" || str(c.Renewal.Deadline) != "2022-06-15" ||
			len(c.Attempts) != 2 || len(c.Renewals) != 1 || c.Renewals[0].Attempt.ID != a2.ID ||
			c.Renewals[0].PreviousExpiresOn != "2021-06-15" || c.Renewals[0].NewExpiresOn != "2022-06-15" {
			t.Fatalf("%s sees %s, want ACTIVE, renewed once by the second attempt, next window 2021-12-15", who.Subject, asJSON(c))
		}
	}
	startFails(t, env, apitest.Support("agent"), e, "en", "FORBIDDEN")
	startFails(t, env, ada.who, e, "en", "RENEWAL_WINDOW_NOT_OPEN")
}

// TestStatusReasonMatchesStart: for each situation, EarnedCertification.renewal.reason is the
// code startRenewalAssessment gives at the same moment (both use renewal.Check).
func TestStatusReasonMatchesStart(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "statuses")
	h.link(t, env)
	unlinked := newHolder(t, env, "statuses-unlinked")
	insertCertification(t, env, "fresh-cert-associate", "ASSOCIATE", "2020-12-01")
	publish(t, env, map[string]any{"certificationCode": "fresh-cert-associate", "questions": bank("F", 3)})
	insertCertification(t, env, "no-assessment-specialty", "SPECIALTY", "2019-01-07")
	inProgress := h.earn(t, env, "azure-developer-associate", "2020-06-15", "")
	start(t, env, h.who, inProgress, "en")
	cases := []struct {
		who    holder
		earned func() uuid.UUID
		want   string
	}{
		{h, func() uuid.UUID { return h.earn(t, env, azureAdmin, "2020-06-15", "") }, ""},
		{h, func() uuid.UUID { return h.earn(t, env, "azure-fundamentals", "2020-06-15", "") }, "NOT_RENEWABLE"},
		{h, func() uuid.UUID { return h.earn(t, env, "no-assessment-specialty", "2020-06-15", "") }, "NOT_RENEWABLE"},
		{h, func() uuid.UUID { return h.earn(t, env, "fresh-cert-associate", "2020-12-10", "") }, "RENEWAL_NOT_AVAILABLE_YET"},
		{h, func() uuid.UUID { return h.earn(t, env, messaging, "2020-03-01", "") }, "CERTIFICATION_EXPIRED"},
		{h, func() uuid.UUID { return h.earn(t, env, devops, "2020-10-01", "") }, "RENEWAL_WINDOW_NOT_OPEN"},
		{unlinked, func() uuid.UUID { return unlinked.earn(t, env, azureAdmin, "2020-06-15", "") }, "PROFILE_NOT_LINKED"},
		{h, func() uuid.UUID { return inProgress }, "ATTEMPT_IN_PROGRESS"},
	}
	for _, c := range cases {
		id := c.earned()
		var out struct {
			Node *struct {
				Status  string
				Renewal statusOut
			}
		}
		oid := opaque("EarnedCertification", id)
		env.MustDo(c.who.who, `query($id: ID!) { node(id: $id) { ... on EarnedCertification { status
  renewal { eligible reason windowOpensOn deadline attemptsThisCycle nextAttemptAt } } } }`, map[string]any{"id": oid}, &out)
		if out.Node == nil {
			t.Fatalf("node(%s) is null, want the earned certification", id)
		}
		if got := str(out.Node.Renewal.Reason); (c.want == "" && out.Node.Renewal.Reason != nil) || (c.want != "" && got != c.want) {
			t.Errorf("status reason: got %s, want %q", got, c.want)
		}
		r := env.Do(c.who.who, startMutation, map[string]any{"id": oid, "lang": "en"})
		gotStart := ""
		if len(r.Errors) > 0 {
			gotStart = r.Errors[0].Code()
		}
		if gotStart != c.want {
			t.Errorf("start: got %q, want %q (the status reason)", gotStart, c.want)
		}
	}
}
