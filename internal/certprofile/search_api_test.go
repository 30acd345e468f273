package certprofile_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

const searchQuery = `query($q: String!, $first: Int, $after: String) {
  searchCertificationProfiles(query: $q, first: $first, after: $after) {
    edges { cursor node { mcid legalName } }
    nodes { mcid legalName email status }
    pageInfo { hasNextPage endCursor }
    totalCount } }`

type searchOut struct {
	SearchCertificationProfiles struct {
		Edges []struct {
			Cursor string
			Node   struct{ MCID, LegalName string }
		}
		Nodes []struct {
			MCID, LegalName, Email, Status string
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
		TotalCount int
	}
}

func search(t *testing.T, env *apitest.Env, q string, first int, after *string) searchOut {
	t.Helper()
	vars := map[string]any{"q": q, "first": first}
	if after != nil {
		vars["after"] = *after
	}
	var out searchOut
	env.MustDo(apitest.Support("agent"), searchQuery, vars, &out)
	return out
}

func mcids(out searchOut) []string {
	var m []string
	for _, n := range out.SearchCertificationProfiles.Nodes {
		m = append(m, n.MCID)
	}
	slices.Sort(m)
	return m
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestSearchFindsByMCIDEmailAlternateEmailAndName(t *testing.T) {
	env := apitest.New(t)
	jose := create(t, env, apitest.Learner("jose"), "José Álvarez", "Jose.Alvarez@Example.com")
	jose2 := create(t, env, apitest.Learner("jose2"), "JOSE ALVAREZ GARCÍA", "jag@example.com")
	ana := create(t, env, apitest.Learner("ana"), "Ana María Núñez", "ana@example.com")
	old := create(t, env, apitest.Learner("ana"), "Ana Nunez", "ana.old@example.com")
	markMerged(t, env, profileUUID(t, env, old.MCID), profileUUID(t, env, ana.MCID))
	if _, err := env.DB.Exec(`INSERT INTO profile_alternate_emails (profile_id, email, from_profile_id, added_at)
VALUES ($1, 'Ana.Old@Example.com', $2, $3)`, profileUUID(t, env, ana.MCID), profileUUID(t, env, old.MCID), env.Clock.Now()); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, q string
		want    []string
	}{
		{"exact MCID", jose.MCID, []string{jose.MCID}},
		{"MCID nobody holds", "123", nil},
		{"email, any case", "jose.alvarez@example.COM", []string{jose.MCID}},
		{"part of an email is not a match", "alvarez@example.com", nil},
		{"alternate email finds the survivor and the merged profile that had it", "ana.old@example.com", []string{ana.MCID, old.MCID}},
		{"name without accents finds accented names", "jose alvarez", []string{jose.MCID, jose2.MCID}},
		{"accents and case in the query are ignored", "ÁLVAREZ", []string{jose.MCID, jose2.MCID}},
		{"part of a name in the middle", "varez gar", []string{jose2.MCID}},
		{"accented query finds an unaccented name", "núñez", []string{ana.MCID, old.MCID}},
		{"LIKE wildcards are literal", "a%z", nil},
		{"underscore is literal", "an_", nil},
	}
	for _, c := range cases {
		out := search(t, env, c.q, 20, nil)
		if got := mcids(out); !slices.Equal(got, sorted(c.want...)) {
			t.Errorf("%s: query %q got %v, want %v", c.name, c.q, got, sorted(c.want...))
		}
		if out.SearchCertificationProfiles.TotalCount != len(c.want) {
			t.Errorf("%s: got totalCount %d, want %d", c.name, out.SearchCertificationProfiles.TotalCount, len(c.want))
		}
	}
	// Results show the status, so support sees which one is merged.
	out := search(t, env, "nunez", 20, nil)
	for _, n := range out.SearchCertificationProfiles.Nodes {
		want := "ACTIVE"
		if n.MCID == old.MCID {
			want = "MERGED"
		}
		if n.Status != want {
			t.Errorf("got %s status %s, want %s", n.MCID, n.Status, want)
		}
	}
}

func TestSearchIsForSupportOnly(t *testing.T) {
	env := apitest.New(t)
	create(t, env, apitest.Learner("alice"), "Alice", "alice@example.com")
	vars := map[string]any{"q": "alice"}
	env.MustFail(apitest.Anonymous, searchQuery, vars, "UNAUTHENTICATED")
	env.MustFail(apitest.Learner("alice"), searchQuery, vars, "FORBIDDEN")
	env.MustFail(apitest.Work("wendy"), searchQuery, vars, "FORBIDDEN")
	env.MustFail(apitest.ExamDelivery(), searchQuery, vars, "FORBIDDEN")
	env.MustFail(apitest.Admin("root"), searchQuery, vars, "FORBIDDEN")
	if out := search(t, env, "alice", 5, nil); len(out.SearchCertificationProfiles.Nodes) != 1 {
		t.Fatalf("support got %+v, want alice", out)
	}
}

func TestSearchRefusesBadInput(t *testing.T) {
	env := apitest.New(t)
	bad := "not-a-cursor!"
	cases := map[string]map[string]any{
		"empty query":        {"q": ""},
		"blank query":        {"q": "   "},
		"two-letter name":    {"q": "al"},
		"first of zero":      {"q": "alice", "first": 0},
		"first over the cap": {"q": "alice", "first": 101},
		"malformed cursor":   {"q": "alice", "after": bad},
		"cursor of the wrong shape": {"q": "alice",
			"after": "WyJvbmx5LW9uZSJd"}, // base64url of ["only-one"]
		"cursor with a bad id": {"q": "alice",
			"after": "WyJhbGljZSIsIm5vdC1hLXV1aWQiXQ"}, // ["alice","not-a-uuid"]
	}
	for name, vars := range cases {
		r := env.Do(apitest.Support("agent"), searchQuery, vars)
		if len(r.Errors) == 0 || r.Errors[0].Code() != "BAD_USER_INPUT" {
			t.Errorf("%s: got %s, want BAD_USER_INPUT", name, r.Raw)
		}
	}
}

func TestSearchPagesWalkEveryMatchOnceInOrder(t *testing.T) {
	env := apitest.New(t)
	var want []string
	for i := range 25 {
		// Accents and case vary, so the order is by the folded name, not the raw one.
		name := fmt.Sprintf("Tanaka %02d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("TÁNAKA %02d", i)
		}
		p := create(t, env, apitest.Learner(fmt.Sprintf("t%02d", i)), name, fmt.Sprintf("t%02d@example.com", i))
		want = append(want, p.MCID)
	}
	create(t, env, apitest.Learner("other"), "Someone Else", "else@example.com")

	var got []string
	var after *string
	for page := 0; ; page++ {
		out := search(t, env, "tanaka", 10, after)
		c := out.SearchCertificationProfiles
		wantTotal := 25
		if page > 0 {
			wantTotal = 26 // the late one below counts, though it sorts on a page already read
		}
		if c.TotalCount != wantTotal {
			t.Fatalf("page %d: got totalCount %d, want %d", page, c.TotalCount, wantTotal)
		}
		for i, e := range c.Edges {
			if e.Node.MCID != c.Nodes[i].MCID {
				t.Fatalf("edges and nodes disagree at %d", i)
			}
			got = append(got, e.Node.MCID)
		}
		if len(c.Edges) > 0 && (c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor) {
			t.Fatalf("page %d: endCursor %v is not the last edge's cursor", page, c.PageInfo.EndCursor)
		}
		if page == 0 {
			// A profile created between pages sorts before the cursor: it must not shift the
			// next pages (no duplicates, nothing skipped).
			create(t, env, apitest.Learner("late"), "Tanaka 00a", "late@example.com")
		}
		if !c.PageInfo.HasNextPage {
			if page != 2 {
				t.Fatalf("got %d pages, want 3", page+1)
			}
			break
		}
		after = c.PageInfo.EndCursor
	}
	if len(got) != 25 {
		t.Fatalf("got %d results, want 25: %v", len(got), got)
	}
	// Names are "tanaka NN" once folded, so the walk follows creation order.
	if !slices.Equal(got, want) {
		t.Fatalf("got order %v, want %v", got, want)
	}
}
