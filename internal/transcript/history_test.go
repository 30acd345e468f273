package transcript_test

import (
	"encoding/base64"
	"slices"
	"sort"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

func TestStatusFollowsTheClock(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	pass(t, env, p.MCID, "AZ-104", "2020-08-31T12:00:00Z") // expires 2021-08-31, window opens 2021-02-28
	cases := []struct{ now, want string }{
		{"2021-02-27T23:59:59Z", "ACTIVE"},
		{"2021-02-28T00:00:00Z", "RENEWABLE"},
		{"2021-08-30T23:59:59Z", "RENEWABLE"},
		{"2021-08-31T00:00:00Z", "EXPIRED"},
	}
	for _, c := range cases {
		setClock(env, c.now)
		h := history(t, env, p.Who, p.ID)
		if got := h.Node.Certifications.Nodes[0].Status; got != c.want {
			t.Fatalf("at %s: got %s, want %s", c.now, got, c.want)
		}
	}
}

// statusFixture records, at 2021-03-01, one certification in every status:
//
//	azure-administrator-associate          2020-01-10..2021-01-10  EXPIRED
//	security-administrator-associate       2019-05-01..2020-05-01  EXPIRED
//	azure-developer-associate              2020-06-01..2021-06-01  RENEWABLE (window from 2020-12-01)
//	azure-data-engineer-associate          2020-08-31..2021-08-31  RENEWABLE (window from 2021-02-28)
//	azure-ai-engineer-associate            2020-10-01..2021-10-01  ACTIVE    (window from 2021-04-01)
//	azure-security-engineer-associate      2020-12-01..2021-12-01  ACTIVE
//	azure-fundamentals                     2020-05-01..            ACTIVE
//	azure-data-scientist-associate         2020-09-15..2021-09-15  SUPERSEDED (marked as a merge would)
func statusFixture(t *testing.T, env *apitest.Env) profile {
	t.Helper()
	p := newProfile(t, env, "alice", "Alice Example")
	for _, r := range [][2]string{
		{"AZ-104", "2020-01-10"}, {"MS-500", "2019-05-01"}, {"AZ-204", "2020-06-01"}, {"DP-203", "2020-08-31"},
		{"AI-102", "2020-10-01"}, {"AZ-500", "2020-12-01"}, {"AZ-900", "2020-05-01"}, {"DP-100", "2020-09-15"},
	} {
		pass(t, env, p.MCID, r[0], r[1]+"T10:00:00Z")
	}
	if _, err := env.DB.Exec(`
UPDATE earned_certifications e SET superseded_at = $2, superseded_by = e.id
FROM certifications c WHERE c.id = e.certification_id AND c.code = 'azure-data-scientist-associate' AND e.profile_id = $1`,
		uuidOf(t, p.ID), env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	return p
}

var fixtureByStatus = map[string][]string{
	"EXPIRED":    {"azure-administrator-associate", "security-administrator-associate"},
	"RENEWABLE":  {"azure-developer-associate", "azure-data-engineer-associate"},
	"ACTIVE":     {"azure-ai-engineer-associate", "azure-security-engineer-associate", "azure-fundamentals"},
	"SUPERSEDED": {"azure-data-scientist-associate"},
}

const pageQuery = `query($id: ID!, $first: Int, $after: String, $status: [EarnedCertificationStatus!]) {
  node(id: $id) { ... on CertificationProfile {
    certifications(first: $first, after: $after, status: $status) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { certification { code } earnedOn status } } } } } }`

type pageData struct {
	Node struct {
		Certifications struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
			Edges []struct {
				Cursor string
				Node   earned
			}
		}
	}
}

// walk pages through a profile's certifications with the filter, first at a time.
func walk(t *testing.T, env *apitest.Env, p profile, status []string, first int) (codes []string, days []string, total int) {
	t.Helper()
	var after any
	for range 50 {
		var out pageData
		vars := map[string]any{"id": p.ID, "first": first, "after": after}
		if status != nil {
			vars["status"] = status
		}
		env.MustDo(p.Who, pageQuery, vars, &out)
		c := out.Node.Certifications
		total = c.TotalCount
		if len(c.Edges) > first {
			t.Fatalf("got %d edges, want at most %d", len(c.Edges), first)
		}
		for _, e := range c.Edges {
			if len(status) > 0 && !slices.Contains(status, e.Node.Status) {
				t.Fatalf("filter %v: got %s with status %s", status, e.Node.Certification.Code, e.Node.Status)
			}
			codes = append(codes, e.Node.Certification.Code)
			days = append(days, e.Node.EarnedOn)
		}
		if len(c.Edges) > 0 && (c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor) {
			t.Fatalf("got endCursor %v, want the last edge's cursor", c.PageInfo.EndCursor)
		}
		if !c.PageInfo.HasNextPage {
			return codes, days, total
		}
		after = *c.PageInfo.EndCursor
	}
	t.Fatal("pagination did not end")
	return nil, nil, 0
}

func TestCertificationsStatusFilterWithKeysetPagination(t *testing.T) {
	env := apitest.New(t)
	p := statusFixture(t, env)
	// nil sends no status argument; an empty list means every status too.
	filters := [][]string{{"ACTIVE"}, {"RENEWABLE"}, {"EXPIRED"}, {"SUPERSEDED"}, {"ACTIVE", "RENEWABLE"},
		{"EXPIRED", "SUPERSEDED", "ACTIVE"}, {"RENEWABLE", "RENEWABLE"}, nil, {}}
	for _, f := range filters {
		var want []string
		for s, list := range fixtureByStatus {
			if len(f) == 0 || slices.Contains(f, s) {
				want = append(want, list...)
			}
		}
		sort.Strings(want)
		for _, first := range []int{1, 2, 100} {
			got, days, total := walk(t, env, p, f, first)
			if !slices.IsSortedFunc(days, func(a, b string) int { return -compareStrings(a, b) }) {
				t.Fatalf("filter %v first %d: got earnedOn %v, want newest first", f, first, days)
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Fatalf("filter %v first %d: got %v, want %v", f, first, got, want)
			}
			if total != len(want) {
				t.Fatalf("filter %v: got totalCount %d, want %d", f, total, len(want))
			}
		}
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestStatusFilterAtTheMonthEnd checks the SQL filter clamps like the status: a
// certification expiring on 31 Aug is renewable from 28 Feb, not before.
func TestStatusFilterAtTheMonthEnd(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	pass(t, env, p.MCID, "DP-203", "2020-08-31T10:00:00Z")
	setClock(env, "2021-02-27T12:00:00Z")
	if got, _, _ := walk(t, env, p, []string{"RENEWABLE"}, 10); len(got) != 0 {
		t.Fatalf("27 Feb, RENEWABLE: got %v, want none", got)
	}
	if got, _, _ := walk(t, env, p, []string{"ACTIVE"}, 10); len(got) != 1 {
		t.Fatalf("27 Feb, ACTIVE: got %v, want the certification", got)
	}
	setClock(env, "2021-02-28T00:00:00Z")
	if got, _, _ := walk(t, env, p, []string{"RENEWABLE"}, 10); len(got) != 1 {
		t.Fatalf("28 Feb, RENEWABLE: got %v, want the certification", got)
	}
	setClock(env, "2021-08-31T00:00:00Z")
	if got, _, _ := walk(t, env, p, []string{"EXPIRED"}, 10); len(got) != 1 {
		t.Fatalf("31 Aug, EXPIRED: got %v, want the certification", got)
	}
}

const resultsPageQuery = `query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on CertificationProfile {
  examResults(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    nodes { exam { code title } takenAt passed } } } } }`

func TestExamResultsPaginate(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	pass(t, env, p.MCID, "AZ-900", "2021-01-01T10:00:00Z")
	pass(t, env, p.MCID, "AZ-104", "2021-02-01T10:00:00Z")
	pass(t, env, p.MCID, "AZ-204", "2021-01-15T10:00:00Z")
	type page struct {
		Node struct {
			ExamResults struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Nodes []struct {
					Exam    struct{ Code, Title string }
					TakenAt string
				}
			}
		}
	}
	var one, two page
	env.MustDo(p.Who, resultsPageQuery, map[string]any{"id": p.ID, "first": 2}, &one)
	r := one.Node.ExamResults
	if r.TotalCount != 3 || !r.PageInfo.HasNextPage || len(r.Nodes) != 2 || r.Nodes[0].Exam.Code != "AZ-104" ||
		r.Nodes[1].Exam.Code != "AZ-204" || r.Nodes[0].Exam.Title == "" {
		t.Fatalf("first page: got %s, want AZ-104, AZ-204 of 3, more to come", jsonString(r))
	}
	env.MustDo(p.Who, resultsPageQuery, map[string]any{"id": p.ID, "first": 2, "after": r.PageInfo.EndCursor}, &two)
	r = two.Node.ExamResults
	if r.PageInfo.HasNextPage || len(r.Nodes) != 1 || r.Nodes[0].Exam.Code != "AZ-900" {
		t.Fatalf("second page: got %s, want AZ-900 and no more", jsonString(r))
	}
}

func TestConnectionArgumentsAreValidated(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	wrongShape := base64.RawURLEncoding.EncodeToString([]byte(`["2021-01-01","not-a-uuid"]`))
	for _, vars := range []map[string]any{
		{"id": p.ID, "first": 0}, {"id": p.ID, "first": 101}, {"id": p.ID, "after": "%%%"}, {"id": p.ID, "after": wrongShape},
	} {
		env.MustFail(p.Who, pageQuery, vars, "BAD_USER_INPUT")
		env.MustFail(p.Who, resultsPageQuery, vars, "BAD_USER_INPUT")
	}
	env.MustFail(p.Who, pageQuery, map[string]any{"id": p.ID, "status": []string{"LAPSED"}}, "BAD_USER_INPUT")
}

func TestHistoryIsForTheOwnerAndSupport(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	got := pass(t, env, p.MCID, "AZ-104", "2021-02-01T10:00:00Z")
	earnedID, resultID := got.EarnedCertifications[0].ID, got.ExamResult.ID

	if h := history(t, env, apitest.Support("agent"), p.ID); h.Node.Certifications.TotalCount != 1 || h.Node.ExamResults.TotalCount != 1 {
		t.Fatalf("support: got %s, want the history", jsonString(h))
	}
	// Someone else's profile is not reachable at all...
	var none struct{ Node *struct{ ID string } }
	env.MustDo(apitest.Learner("mallory"), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": p.ID}, &none)
	if none.Node != nil {
		t.Fatalf("other learner: got %v, want null", none.Node)
	}
	// ... and where a profile object is reached another way (the survivor of a merge owned by
	// another account), its history is refused.
	dup := newProfile(t, env, "bob", "Bob Example")
	mergeForTest(t, env, dup.ID, p.ID)
	// The survivor is hidden from the duplicate's owner (mergedInto is null), so its history
	// cannot be reached through it.
	for _, field := range []string{"certifications", "examResults"} {
		var out struct {
			Node struct{ MergedInto *struct{} }
		}
		env.MustDo(dup.Who, `query($id: ID!) { node(id: $id) { ... on CertificationProfile {
		  mergedInto { `+field+` { totalCount } } } } }`, map[string]any{"id": dup.ID}, &out)
		if out.Node.MergedInto != nil {
			t.Fatalf("%s: got the survivor through mergedInto, want null", field)
		}
	}

	const nodeQuery = `query($e: ID!, $r: ID!) {
	  e: node(id: $e) { id ... on EarnedCertification { earnedOn certification { code } } }
	  r: node(id: $r) { id ... on ExamResult { exam { code } externalId } } }`
	vars := map[string]any{"e": earnedID, "r": resultID}
	type nodes struct{ E, R *struct{ ID string } }
	for _, who := range []apitest.Identity{p.Who, apitest.Support("agent")} {
		var out nodes
		env.MustDo(who, nodeQuery, vars, &out)
		if out.E == nil || out.E.ID != earnedID || out.R == nil || out.R.ID != resultID {
			t.Fatalf("%s: got %+v, want both nodes", who.Subject, out)
		}
	}
	for _, who := range []apitest.Identity{apitest.Learner("mallory"), apitest.Anonymous, apitest.ExamDelivery()} {
		var out nodes
		env.MustDo(who, nodeQuery, vars, &out)
		if out.E != nil || out.R != nil {
			t.Fatalf("%q: got %+v, want null nodes", who.Subject, out)
		}
	}
}

func TestEachProfileGetsItsOwnPage(t *testing.T) {
	env := apitest.New(t)
	a := newProfile(t, env, "alice", "Alice One")
	b := newProfile(t, env, "alice", "Alice Two")
	pass(t, env, a.MCID, "AZ-104", "2021-02-01T10:00:00Z")
	pass(t, env, b.MCID, "AZ-900", "2021-02-01T10:00:00Z")
	pass(t, env, b.MCID, "AZ-500", "2021-02-02T10:00:00Z")
	var out struct {
		Viewer struct {
			CertificationProfiles []struct {
				Mcid           string
				Certifications struct {
					TotalCount int
					Nodes      []earned
				}
			}
		}
	}
	env.MustDo(a.Who, `{ viewer { certificationProfiles { mcid certifications(first: 1) { totalCount nodes { certification { code } } } } } }`, nil, &out)
	got := map[string]string{}
	for _, p := range out.Viewer.CertificationProfiles {
		got[p.Mcid] = jsonString(codes(p.Certifications.Nodes)) + " of " + jsonString(p.Certifications.TotalCount)
	}
	want := map[string]string{a.MCID: `["azure-administrator-associate"] of 1`, b.MCID: `["azure-security-engineer-associate"] of 2`}
	if jsonString(got) != jsonString(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
