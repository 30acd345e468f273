package renewal_test

import (
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// TestSupportNeverUsesTheLearnersMutations: support sees a learner's profile, certifications
// and attempts, but every mutation a learner makes on their own profile is FORBIDDEN to support
// (with a work or a personal account), and leaves everything as it was: the connection, the
// transcript shares, the attempts and the expiry.
func TestSupportNeverUsesTheLearnersMutations(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "learner")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")
	a := start(t, env, h.who, e, "en")
	var share struct {
		CreateTranscriptShare struct{ Share struct{ ID string } }
	}
	env.MustDo(h.who, `mutation($id: ID!) { createTranscriptShare(input: {certificationProfileId: $id}) { share { id } } }`,
		map[string]any{"id": opaque("CertificationProfile", h.profileID)}, &share)

	profileID := opaque("CertificationProfile", h.profileID)
	mutations := []struct {
		name, query string
		vars        map[string]any
	}{
		{"linkCertificationProfile", `mutation($id: ID!) { linkCertificationProfile(input: {certificationProfileId: $id}) { certificationProfile { id } } }`,
			map[string]any{"id": profileID}},
		{"unlinkCertificationProfile", unlinkMutation, map[string]any{"id": profileID}},
		{"createTranscriptShare", `mutation($id: ID!) { createTranscriptShare(input: {certificationProfileId: $id}) { share { id } } }`,
			map[string]any{"id": profileID}},
		{"revokeTranscriptShare", `mutation($id: ID!) { revokeTranscriptShare(input: {shareId: $id}) { share { id } } }`,
			map[string]any{"id": share.CreateTranscriptShare.Share.ID}},
		{"startRenewalAssessment", startMutation, map[string]any{"id": opaque("EarnedCertification", e), "lang": "en"}},
		{"submitRenewalAssessment", submitMutation, map[string]any{"id": a.ID, "answers": answers(t, env, a, len(a.Questions))}},
	}
	personal := apitest.Learner("agent-p")
	personal.Roles = []string{"support"}
	agents := map[string]apitest.Identity{"work account": apitest.Support("agent"), "personal account": personal}
	for _, m := range mutations {
		for kind, agent := range agents {
			t.Run(m.name+" by support with a "+kind, func(t *testing.T) {
				r := env.Do(agent, m.query, m.vars)
				if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
					t.Errorf("got %s, want FORBIDDEN", r.Raw)
				}
			})
		}
	}

	var st struct {
		Links, Shares, Revoked, Attempts, Submitted int
	}
	if err := env.DB.Get(&st, `
SELECT (SELECT count(*) FROM profile_links WHERE certification_profile_id = $1) AS links,
       (SELECT count(*) FROM transcript_shares WHERE profile_id = $1) AS shares,
       (SELECT count(*) FROM transcript_shares WHERE profile_id = $1 AND revoked_at IS NOT NULL) AS revoked,
       (SELECT count(*) FROM assessment_attempts WHERE earned_certification_id = $2) AS attempts,
       (SELECT count(*) FROM assessment_attempts WHERE earned_certification_id = $2 AND submitted_at IS NOT NULL) AS submitted`,
		h.profileID, e); err != nil {
		t.Fatal(err)
	}
	if st.Links != 1 || st.Shares != 1 || st.Revoked != 0 || st.Attempts != 1 || st.Submitted != 0 {
		t.Fatalf("after support's refused mutations: got %+v, want the link, one live share, one attempt in progress", st)
	}
	if got := expiresOn(t, env, e); got != "2021-06-15" {
		t.Fatalf("got expiry %s, want 2021-06-15", got)
	}
}
