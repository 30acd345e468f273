package renewal_test

import (
	"testing"
	"time"

	"github.com/recert/recert/graph"
	"github.com/recert/recert/graph/app/apitest"
)

// EarnedCertification.attempts lists the latest graph.ListedAttempts attempts: the bound the
// cost model prices the list by.
func TestAttemptsListIsBounded(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "many-attempts")
	e := h.earn(t, env, "azure-developer-associate", "2020-06-15", "")
	n := graph.ListedAttempts + 1
	if _, err := env.DB.Exec(`
INSERT INTO assessment_attempts (earned_certification_id, version_id, language, cycle_expires_on, started_at, submitted_at, score, passed)
SELECT e.id, v.id, 'en', e.expires_on, $2::timestamptz - g * interval '1 day', $2::timestamptz - g * interval '1 day' + interval '20 minutes', 25, false
FROM earned_certifications e
JOIN renewal_assessments a ON a.certification_id = e.certification_id
JOIN assessment_versions v ON v.assessment_id = a.id AND v.version = 1, generate_series(1, $3) g
WHERE e.id = $1`, e, env.Clock.Now(), n); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Node struct{ Attempts []struct{ StartedAt string } }
	}
	env.MustDo(h.who, `query($id: ID!) { node(id: $id) { ... on EarnedCertification { attempts { startedAt } } } }`,
		map[string]any{"id": opaque("EarnedCertification", e)}, &out)
	got := out.Node.Attempts
	latest := env.Clock.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	if len(got) != graph.ListedAttempts || got[len(got)-1].StartedAt != latest {
		t.Fatalf("got %d attempts, the last started %v; want the latest %d of %d, oldest first, ending %s",
			len(got), got[len(got)-1].StartedAt, graph.ListedAttempts, n, latest)
	}
}
