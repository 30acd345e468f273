package transcript_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
)

const profileCostQuery = `query($mcid: String!) { certificationProfile(mcid: $mcid) {
  certifications(first: 50) { nodes {
    certification { name requirementPaths { code } prerequisites { code } renewalAssessment { version } }
    status expiresOn } }
  examResults { nodes { exam { title } } } } }`

// TestProfileQueryCostDoesNotGrowWithTheList counts the SQL statements of one profile query
// with 1 and with 50 earned certifications (and exam results): the counts must be equal.
func TestProfileQueryCostDoesNotGrowWithTheList(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	small := newProfile(t, env, "small", "Small Example")
	pass(t, env, small.MCID, "AZ-400", "2021-01-10T10:00:00Z") // an exam result earning nothing
	pass(t, env, small.MCID, "AZ-104", "2021-01-12T10:00:00Z")
	big := newProfile(t, env, "big", "Big Example")
	fillHistory(t, env, uuidOf(t, big.ID), 50)

	cost := func(p profile, wantCerts int) int64 {
		t.Helper()
		var out struct {
			CertificationProfile struct {
				Certifications struct{ Nodes []any }
				ExamResults    struct{ Nodes []any }
			}
		}
		vars := map[string]any{"mcid": p.MCID}
		env.MustDo(p.Who, profileCostQuery, vars, nil) // the first request of an identity also creates its account
		before := env.Statements()
		env.MustDo(p.Who, profileCostQuery, vars, &out)
		n := env.Statements() - before
		if got := len(out.CertificationProfile.Certifications.Nodes); got != wantCerts {
			t.Fatalf("got %d certifications, want %d", got, wantCerts)
		}
		return n
	}
	// Each list is loaded in one batch per loader, but two independent batches of one loader
	// (the exams of requirement paths and of exam results) merge when they happen to fall in
	// the same batching window, which depends on scheduling: the fewest statements over a few
	// requests is the batched cost, and it must not depend on the list's length.
	fewest := func(p profile, wantCerts int) int64 {
		best := cost(p, wantCerts)
		for range 4 {
			best = min(best, cost(p, wantCerts))
		}
		return best
	}
	one, fifty := fewest(small, 1), fewest(big, 50)
	t.Logf("%d statements with 1 earned certification, %d with 50", one, fifty)
	if one != fifty {
		t.Fatalf("got %d statements with 50 earned certifications, want %d as with 1", fifty, one)
	}
	if one > 15 {
		t.Fatalf("got %d statements for one profile query, want a small constant", one)
	}
}

// TestTotalCountOnlyWhenAsked shows the count costs a statement only when selected.
func TestTotalCountOnlyWhenAsked(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	p := newProfile(t, env, "alice", "Alice Example")
	pass(t, env, p.MCID, "AZ-104", "2021-01-12T10:00:00Z")
	cost := func(q string) int64 {
		t.Helper()
		before := env.Statements()
		env.MustDo(p.Who, q, map[string]any{"mcid": p.MCID}, nil)
		return env.Statements() - before
	}
	const without = `query($mcid: String!) { certificationProfile(mcid: $mcid) {
	  certifications { nodes { earnedOn } } examResults { nodes { takenAt } } } }`
	const with = `query($mcid: String!) { certificationProfile(mcid: $mcid) {
	  certifications { totalCount nodes { earnedOn } } examResults { totalCount nodes { takenAt } } } }`
	cost(without) // warm up the account
	// The certifications count is read by the page's own statement (issue 8); the exam results
	// count is one statement of its own.
	if a, b := cost(without), cost(with); b != a+1 {
		t.Fatalf("got %d statements with totalCount and %d without, want exactly 1 more (exam results' count)", b, a)
	}
}

// fillHistory gives a profile n earned certifications across the whole catalog and n exam
// results, written directly: the test is about reading them.
func fillHistory(t *testing.T, env *apitest.Env, profileID uuid.UUID, n int) {
	t.Helper()
	var certs []struct {
		ID    uuid.UUID `db:"id"`
		Level string    `db:"level"`
	}
	if err := env.DB.Select(&certs, `SELECT id, level FROM certifications ORDER BY code`); err != nil {
		t.Fatal(err)
	}
	var exams []string
	if err := env.DB.Select(&exams, `SELECT code FROM exams ORDER BY code`); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		c := certs[i%len(certs)]
		if _, err := env.DB.Exec(`
INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
VALUES ($1, $2, date '2015-01-01' + $3::int * 40,
        CASE WHEN $4 = 'FUNDAMENTALS' THEN NULL ELSE date '2015-01-01' + $3::int * 40 + 365 END, $5)`,
			profileID, c.ID, i, c.Level, env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB.Exec(`
INSERT INTO exam_results (profile_id, exam_code, passed, score, taken_at, external_id, recorded_at)
VALUES ($1, $2, true, 800, timestamptz '2015-01-01 10:00Z' + $3::int * interval '40 days', $4, $5)`,
			profileID, exams[i%len(exams)], i, fmt.Sprintf("fill-%s-%d", profileID, i), env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
}
