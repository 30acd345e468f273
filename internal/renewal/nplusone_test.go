package renewal_test

import (
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

const renewalCostQuery = `query($mcid: String!) { certificationProfile(mcid: $mcid) {
  certifications(first: 6) { nodes {
    renewal { eligible reason windowOpensOn deadline attemptsThisCycle nextAttemptAt }
    renewals { renewedAt newExpiresOn attempt { id assessmentVersion } }
    attempts { id score questions { id choices { id } } } } } } }`

// TestRenewalFieldsAreBatched counts the SQL statements of a profile query asking for the
// renewal status, renewals and attempts (with their questions) of every certification: the
// same with 1 certification as with 12.
func TestRenewalFieldsAreBatched(t *testing.T) {
	// The query asks every question and choice of up to 20 attempts of 6 certifications, which
	// the cost model prices (by the lists' bounds) above the default limit; this test counts
	// statements, so it lifts the limit.
	env := apitest.New(t, apitest.WithStatementCounting(), apitest.WithEnv(map[string]string{"QUERY_MAX_COST": "1000000"}))
	var codes []string
	if err := env.DB.Select(&codes, `SELECT c.code FROM certifications c JOIN renewal_assessments a ON a.certification_id = c.id
ORDER BY c.code LIMIT 6`); err != nil || len(codes) != 6 {
		t.Fatalf("got %d renewable certifications (%v), want 6", len(codes), err)
	}
	small, big := newHolder(t, env, "small"), newHolder(t, env, "big")
	for _, x := range []struct {
		h holder
		n int
	}{{small, 1}, {big, 6}} {
		x.h.link(t, env)
		for _, code := range codes[:x.n] {
			e := x.h.earn(t, env, code, "2020-06-15", "")
			a := start(t, env, x.h.who, e, "en")
			submit(t, env, x.h.who, a.ID, answers(t, env, a, 0))
			b := start(t, env, x.h.who, e, "en")
			submit(t, env, x.h.who, b.ID, answers(t, env, b, len(b.Questions)))
		}
	}
	cost := func(h holder, want int) int64 {
		t.Helper()
		var out struct {
			CertificationProfile struct {
				Certifications struct {
					Nodes []earnedOut
				}
			}
		}
		vars := map[string]any{"mcid": h.mcid}
		before := env.Statements()
		env.MustDo(h.who, renewalCostQuery, vars, &out)
		n := env.Statements() - before
		nodes := out.CertificationProfile.Certifications.Nodes
		if len(nodes) != want || len(nodes[want-1].Attempts) != 2 || len(nodes[want-1].Renewals) != 1 {
			t.Fatalf("got %s, want %d certifications with 2 attempts and 1 renewal each", asJSON(nodes), want)
		}
		return n
	}
	for round := range 3 {
		one, many := cost(small, 1), cost(big, 6)
		t.Logf("round %d: %d statements with 1 certification, %d with 6", round, one, many)
		if one != many {
			t.Fatalf("got %d statements with 6 certifications, want %d as with 1", many, one)
		}
	}
}
