package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/learner"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// dashboardProfile creates, through the API, a connected certification profile for id, then
// gives it n earned certifications straight in SQL (spread over the catalog, expiries over
// two years around the test clock, a failed renewal attempt on every fifth one inside its
// window), and returns its MCID.
func dashboardProfile(t testing.TB, env *apitest.Env, id apitest.Identity, n int) string {
	t.Helper()
	var created struct {
		CreateCertificationProfile struct {
			CertificationProfile struct{ ID, MCID string } `json:"certificationProfile"`
		} `json:"createCertificationProfile"`
	}
	env.MustDo(id, `mutation($in: CreateCertificationProfileInput!) { createCertificationProfile(input: $in) {
  certificationProfile { id mcid } } }`, map[string]any{"in": map[string]any{"legalName": "Dash " + id.Subject, "email": id.Email}}, &created)
	p := created.CreateCertificationProfile.CertificationProfile
	env.MustDo(id, `mutation($in: LinkCertificationProfileInput!) { linkCertificationProfile(input: $in) {
  certificationProfile { id } } }`, map[string]any{"in": map[string]any{"certificationProfileId": p.ID}}, nil)
	day := env.Clock.Now().Format("2006-01-02")
	if _, err := env.DB.Exec(`
INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id,
       CASE WHEN c.level = 'FUNDAMENTALS' THEN $3::date - 400 ELSE ($3::date - 365 + (j * 37) % 730 - interval '1 year')::date END,
       CASE WHEN c.level = 'FUNDAMENTALS' THEN NULL ELSE $3::date - 365 + (j * 37) % 730 END,
       $3::date - 400
FROM certification_profiles p, generate_series(1, $2::int) j
JOIN (SELECT id, level, row_number() OVER (ORDER BY code) - 1 AS ord FROM certifications) c
  ON c.ord = (j * 7) % (SELECT count(*) FROM certifications)
WHERE p.mcid = $1::bigint`, p.MCID, n, day); err != nil {
		t.Fatalf("insert earned: %v", err)
	}
	if _, err := env.DB.Exec(`
INSERT INTO assessment_attempts (earned_certification_id, version_id, language, cycle_expires_on, started_at, submitted_at, score, passed)
SELECT e.id, v.id, 'en', e.expires_on, $2::timestamptz - interval '3 days', $2::timestamptz - interval '3 days' + interval '20 minutes', 25, false
FROM (SELECT e.*, row_number() OVER (ORDER BY e.earned_on, e.id) AS k FROM earned_certifications e
      JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid = $1::bigint) e
JOIN renewal_assessments a ON a.certification_id = e.certification_id
JOIN assessment_versions v ON v.assessment_id = a.id AND v.version = 1
WHERE e.k % 5 = 0 AND e.expires_on > $2::date AND (e.expires_on - interval '6 months')::date <= $2::date`,
		p.MCID, env.Clock.Now()); err != nil {
		t.Fatalf("insert attempts: %v", err)
	}
	return p.MCID
}

type dashboardData struct {
	CertificationProfile *struct {
		MCID           string `json:"mcid"`
		Certifications struct {
			TotalCount int               `json:"totalCount"`
			Nodes      []json.RawMessage `json:"nodes"`
		} `json:"certifications"`
	} `json:"certificationProfile"`
}

// The dashboard query costs the same number of SQL statements whatever the number of earned
// certifications (issue 8), and at most 2 on a warm request (issue 12: the caller's account is
// known; the profile and its page with everything the page's fields need are read together,
// TestDashboardReadsProfileAndPageInOneStatement): profiles with 20, 1 and 1,000 of them,
// first: 20.
func TestDashboardStatementsDoNotGrowWithCertifications(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	counts := map[int]int64{}
	for _, n := range []int{20, 1, 1000} {
		id := apitest.Learner(fmt.Sprintf("dash-%d", n))
		mcid := dashboardProfile(t, env, id, n)
		env.MustDo(id, `{ viewer { account { id } } }`, nil, nil) // warm: the caller has been seen
		before := env.Statements()
		var out dashboardData
		env.MustDo(id, dashboardQuery, map[string]any{"mcid": mcid}, &out)
		counts[n] = env.Statements() - before
		cp := out.CertificationProfile
		if cp == nil || cp.Certifications.TotalCount != n || len(cp.Certifications.Nodes) != min(n, 20) {
			t.Fatalf("%d certifications: got %+v, want totalCount %d and %d nodes", n, cp, n, min(n, 20))
		}
	}
	t.Logf("statements per dashboard request: %v", counts)
	for _, n := range []int{1, 1000} {
		if counts[n] != counts[20] {
			t.Errorf("%d certifications: got %d statements, want %d (as for 20)", n, counts[n], counts[20])
		}
	}
	if counts[20] > 2 {
		t.Errorf("got %d statements per warm dashboard request, want at most 2", counts[20])
	}
}

// The hand-written limit answers the dashboard with the same data as Recert, so the benchmark
// compares equal work.
func TestLimitAnswersLikeRecert(t *testing.T) {
	env := apitest.New(t)
	id := apitest.Learner("limit")
	mcid := dashboardProfile(t, env, id, 30)
	var want map[string]any
	env.MustDo(id, dashboardQuery, map[string]any{"mcid": mcid}, &want)

	s := &limitServer{db: env.DB.DB, secret: []byte(apitest.Secret), issuer: apitest.Issuer, audience: apitest.Audience,
		now: env.Clock.Now}
	var err error
	if s.stmt, err = env.DB.Prepare(limitSQL); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	req := httptest.NewRequest(http.MethodPost, "/dashboard", strings.NewReader(string(gqlBody(dashboardQuery, map[string]any{"mcid": mcid}))))
	req.Header.Set("Authorization", "Bearer "+env.Token(id))
	rec := httptest.NewRecorder()
	s.dashboard(rec, req)
	var got struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("limit response %d: %v\n%s", rec.Code, err, rec.Body)
	}
	if !reflect.DeepEqual(got.Data, want) {
		g, _ := json.MarshalIndent(got.Data, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("limit answered\n%s\nwant (Recert)\n%s", g, w)
	}
}

// totalCount stays the profile's count on every page, also past the last row (where the
// count cannot come with the page's rows).
func TestTotalCountOnEveryPage(t *testing.T) {
	env := apitest.New(t)
	id := apitest.Learner("pages")
	mcid := dashboardProfile(t, env, id, 3)
	const q = `query($mcid: String!, $after: String) { certificationProfile(mcid: $mcid) {
  certifications(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } } }`
	var after any
	for page := 1; page <= 3; page++ {
		var out struct {
			CertificationProfile struct {
				Certifications struct {
					TotalCount int
					PageInfo   struct {
						HasNextPage bool
						EndCursor   *string
					}
					Nodes []struct{ ID string }
				}
			}
		}
		env.MustDo(id, q, map[string]any{"mcid": mcid, "after": after}, &out)
		c := out.CertificationProfile.Certifications
		if c.TotalCount != 3 {
			t.Fatalf("page %d: got totalCount %d, want 3", page, c.TotalCount)
		}
		if want := []int{2, 1, 0}[page-1]; len(c.Nodes) != want {
			t.Fatalf("page %d: got %d nodes, want %d", page, len(c.Nodes), want)
		}
		if c.PageInfo.EndCursor != nil {
			after = *c.PageInfo.EndCursor
		}
	}
}

// On a warm request the dashboard is one statement (issue 12): the profile an MCID names comes
// with its page of earned certifications. The answer is the one the profile and page readers
// give apart (a status filter listing every status takes that path), for the owner and for
// support; a stranger still gets null, and a profile with no certification (the statement then
// reads no row) is still found.
func TestDashboardReadsProfileAndPageInOneStatement(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	owner := apitest.Learner("one-owner")
	mcid := dashboardProfile(t, env, owner, 25)
	separate := strings.Replace(dashboardQuery, "certifications(first: 20)",
		"certifications(first: 20, status: [ACTIVE, RENEWABLE, EXPIRED, SUPERSEDED])", 1)
	for _, id := range []apitest.Identity{owner, apitest.Support("one-support")} {
		env.MustDo(id, `{ viewer { account { id } } }`, nil, nil) // warm: the caller has been seen
		before := env.Statements()
		var got, want map[string]any
		env.MustDo(id, dashboardQuery, map[string]any{"mcid": mcid}, &got)
		one := env.Statements() - before
		env.MustDo(id, separate, map[string]any{"mcid": mcid}, &want)
		apart := env.Statements() - before - one
		// Support also reads the owner's Learn profile (learnProfile): one more either way.
		if one != apart-1 || (id.Subject == owner.Subject && one != 1) {
			t.Errorf("%s: got %d statements per warm dashboard request, %d apart", id.Subject, one, apart)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: one statement answered %v, the separate readers %v", id.Subject, got, want)
		}
	}
	var out dashboardData
	env.MustDo(apitest.Learner("one-stranger"), dashboardQuery, map[string]any{"mcid": mcid}, &out)
	if out.CertificationProfile != nil {
		t.Errorf("a stranger got %+v, want null", out.CertificationProfile)
	}
	empty := dashboardProfile(t, env, apitest.Learner("one-empty"), 0)
	env.MustDo(apitest.Learner("one-empty"), dashboardQuery, map[string]any{"mcid": empty}, &out)
	if out.CertificationProfile == nil || out.CertificationProfile.MCID != empty || len(out.CertificationProfile.Certifications.Nodes) != 0 {
		t.Errorf("a profile with no certification: got %+v", out.CertificationProfile)
	}
}

// BenchmarkDashboardRequest runs one dashboard request (20 of 30 earned certifications) through
// the whole handler, as the server runs it without OTEL_* variables: the cost of the hot path
// with tracing off (compare ns/op and allocs/op before and after a change to the middleware).
func BenchmarkDashboardRequest(b *testing.B) {
	env := apitest.New(b)
	id := apitest.Learner("bench-dash")
	mcid := dashboardProfile(b, env, id, 30)
	vars := map[string]any{"mcid": mcid}
	env.MustDo(id, dashboardQuery, vars, nil) // warm: account cached, statements prepared
	b.ReportAllocs()
	for b.Loop() {
		if r := env.Do(id, dashboardQuery, vars); len(r.Errors) > 0 {
			b.Fatalf("errors: %s", r.Raw)
		}
	}
}

// forgetIdentities gives the server a learner service that remembers no identity, as after a
// restart (or for a caller this process has not seen yet: the bench sends each owner once).
func forgetIdentities(env *apitest.Env) {
	env.Server.Resolver.Learner = learner.NewService(postgres.Learner{Store: env.Server.Store}, env.Clock)
}

// A cold dashboard request, one whose caller the process does not know yet, is also one
// statement (issue 12, third pass): the account behind the token's issuer and subject is read
// by the statement of the profile and its page, and the read rule applies once it is settled.
// An identity with no account yet still gets one, and one whose details changed has them
// refreshed, as on any first request.
func TestColdDashboardIsOneStatement(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	for _, n := range []int{1, 20, 1000} {
		owner := apitest.Learner(fmt.Sprintf("cold-%d", n))
		mcid := dashboardProfile(t, env, owner, n)
		forgetIdentities(env)
		before := env.Statements()
		var out dashboardData
		env.MustDo(owner, dashboardQuery, map[string]any{"mcid": mcid}, &out)
		if got := env.Statements() - before; got != 1 {
			t.Errorf("%d certifications: got %d statements per cold dashboard request, want 1", n, got)
		}
		if cp := out.CertificationProfile; cp == nil || cp.Certifications.TotalCount != n {
			t.Fatalf("%d certifications: got %+v", n, cp)
		}
	}

	owner := apitest.Learner("cold-owner")
	mcid := dashboardProfile(t, env, owner, 3)
	var warm map[string]any
	env.MustDo(owner, dashboardQuery, map[string]any{"mcid": mcid}, &warm)
	forgetIdentities(env)
	var cold map[string]any
	env.MustDo(owner, dashboardQuery, map[string]any{"mcid": mcid}, &cold)
	if !reflect.DeepEqual(cold, warm) {
		t.Errorf("cold request answered %v, warm %v", cold, warm)
	}

	// A stranger with an account, and one with none yet: null, and the new one has an account.
	stranger, newcomer := apitest.Learner("cold-stranger"), apitest.Learner("cold-newcomer")
	env.MustDo(stranger, `{ viewer { account { id } } }`, nil, nil)
	forgetIdentities(env)
	for _, id := range []apitest.Identity{stranger, newcomer} {
		var out dashboardData
		env.MustDo(id, dashboardQuery, map[string]any{"mcid": mcid}, &out)
		if out.CertificationProfile != nil {
			t.Errorf("%s got %+v, want null", id.Subject, out.CertificationProfile)
		}
	}
	var accounts int
	if err := env.DB.Get(&accounts, `SELECT count(*) FROM accounts WHERE subject = $1`, newcomer.Subject); err != nil || accounts != 1 {
		t.Errorf("the newcomer has %d accounts (%v), want 1", accounts, err)
	}

	// Changed details (a new email in the token) are written on a cold request too.
	forgetIdentities(env)
	moved := owner
	moved.Email = "moved@example.com"
	var out dashboardData
	env.MustDo(moved, dashboardQuery, map[string]any{"mcid": mcid}, &out)
	var email string
	if err := env.DB.Get(&email, `SELECT email FROM accounts WHERE subject = $1`, owner.Subject); err != nil || email != moved.Email {
		t.Errorf("account email %q (%v), want %q", email, err, moved.Email)
	}
	if out.CertificationProfile == nil {
		t.Errorf("the owner with a new email got null")
	}

	// Support, cold: sees the profile (the read rule runs once the account is settled).
	forgetIdentities(env)
	env.MustDo(apitest.Support("cold-support"), dashboardQuery, map[string]any{"mcid": mcid}, &out)
	if out.CertificationProfile == nil || out.CertificationProfile.MCID != mcid {
		t.Errorf("support got %+v", out.CertificationProfile)
	}
}

// BenchmarkDashboardInProcess runs the dashboard query through the whole handler (HTTP
// middleware, GraphQL, the database) in process, for a warm caller with 20 certifications:
// allocations per request are the number to watch (-benchmem), they do not depend on the
// machine's load.
func BenchmarkDashboardInProcess(b *testing.B) {
	for _, n := range []int{5, 20} {
		b.Run(fmt.Sprintf("certifications=%d", n), func(b *testing.B) { benchmarkDashboardInProcess(b, n) })
	}
}

// benchmarkDashboardInProcess sends the dashboard query for a profile of n certifications (the
// seed-bench data averages 5) through the whole HTTP handler, in process.
func benchmarkDashboardInProcess(b *testing.B, n int) {
	env := apitest.New(b)
	id := apitest.Learner("bench-dash")
	mcid := dashboardProfile(b, env, id, n)
	body := string(gqlBody(dashboardQuery, map[string]any{"mcid": mcid}))
	token := "Bearer " + env.Token(id)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
