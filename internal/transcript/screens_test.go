package transcript_test

import (
	"fmt"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// The read screens other than the dashboard (issue 12) each cost a constant, small number of
// SQL statements on a warm request, whatever the number of items they show: one request each,
// no "fewest of several" (a screen answered by its own statements cannot split a batch).

const profilePageQuery = `query($mcid: String!) { certificationProfile(mcid: $mcid) {
  mcid legalName email learnProfile { id linkedAt }
  certifications(first: 20) { totalCount nodes { id earnedOn expiresOn status certification { code name level }
    renewal { eligible reason windowOpensOn deadline attemptsThisCycle nextAttemptAt } } }
  examResults(first: 20) { totalCount nodes { id passed score takenAt exam { code title } } } } }`

const searchScreenQuery = `query($q: String!) { searchCertificationProfiles(query: $q, first: 50) {
  totalCount nodes { id mcid legalName email status learnProfile { id linkedAt } } } }`

const publicTranscriptQuery = `query($code: String!) { transcript(shareCode: $code) {
  legalName mcid certifications { earnedOn expiresOn status certification { code name level } }
  examResults { passed takenAt exam { code title } } } }`

// statementsOf counts the statements of one request (after one to warm the caller's account).
func statementsOf(t *testing.T, env *apitest.Env, who apitest.Identity, q string, vars map[string]any) int64 {
	t.Helper()
	env.MustDo(who, q, vars, nil)
	before := env.Statements()
	env.MustDo(who, q, vars, nil)
	return env.Statements() - before
}

func TestReadScreensCostConstantStatements(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	one := newProfile(t, env, "screen-one", "Screen Person One")
	pass(t, env, one.MCID, "AZ-104", "2021-01-12T10:00:00Z")
	many := newProfile(t, env, "screen-many", "Screen Person Many")
	fillHistory(t, env, uuidOf(t, many.ID), 50)
	for i := range 30 {
		newProfile(t, env, fmt.Sprintf("screen-crowd-%d", i), fmt.Sprintf("Crowd Member %d", i))
	}
	share := func(p profile) string {
		var out struct {
			CreateTranscriptShare struct{ Share struct{ Code string } }
		}
		env.MustDo(p.Who, `mutation($in: CreateTranscriptShareInput!) { createTranscriptShare(input: $in) { share { code } } }`,
			map[string]any{"in": map[string]any{"certificationProfileId": p.ID}}, &out)
		return out.CreateTranscriptShare.Share.Code
	}
	support := apitest.Support("screens")

	for _, c := range []struct {
		screen    string
		max       int64
		small     func() int64
		large     func() int64
		smallDesc string
		largeDesc string
	}{
		{"profile page with exam results", 4, // profile, certifications page, exam results page, their count
			func() int64 { return statementsOf(t, env, one.Who, profilePageQuery, map[string]any{"mcid": one.MCID}) },
			func() int64 {
				return statementsOf(t, env, many.Who, profilePageQuery, map[string]any{"mcid": many.MCID})
			},
			"1 certification and 2 exam results", "50 of each"},
		{"support search", 5, // search, its count, the links and the Learn profiles of the hits
			func() int64 {
				return statementsOf(t, env, support, searchScreenQuery, map[string]any{"q": "Screen Person One"})
			},
			func() int64 {
				return statementsOf(t, env, support, searchScreenQuery, map[string]any{"q": "Crowd Member"})
			},
			"1 hit", "30 hits"},
		{"public transcript", 6, // view (counted) and the transcript's three reads in one transaction, certifications, exams
			func() int64 {
				return statementsOf(t, env, apitest.Anonymous, publicTranscriptQuery, map[string]any{"code": share(one)})
			},
			func() int64 {
				return statementsOf(t, env, apitest.Anonymous, publicTranscriptQuery, map[string]any{"code": share(many)})
			},
			"1 certification and 2 exam results", "50 of each"},
	} {
		small, large := c.small(), c.large()
		t.Logf("%s: %d statements with %s, %d with %s", c.screen, small, c.smallDesc, large, c.largeDesc)
		if small != large || large > c.max {
			t.Errorf("%s: got %d statements with %s and %d with %s, want the same, at most %d",
				c.screen, small, c.smallDesc, large, c.largeDesc, c.max)
		}
	}
}
