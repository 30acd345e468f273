package team_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/team"
)

// costOf reads extensions.cost of a response.
func costOf(t *testing.T, r apitest.Response) (requested, limit int) {
	t.Helper()
	var out struct {
		Extensions struct {
			Cost struct{ Requested, Limit int }
		}
	}
	if err := json.Unmarshal(r.Raw, &out); err != nil {
		t.Fatalf("response: %v", err)
	}
	return out.Extensions.Cost.Requested, out.Extensions.Cost.Limit
}

// fullPageCost is the price of membersQuery with first: 100: team 1, members 10, pageInfo 1,
// and per member edges 1 + node 1 + certifications ListedCertifications × 1.
const fullPageCost = 1 + 10 + 1 + 100*(2+team.ListedCertifications)

// With the default limits, a page of the documented maximum (100 members) with every field
// docs/api.md lists runs; two such pages in one document are still refused.
func TestAFullTeamPageFitsTheDefaultCostLimit(t *testing.T) {
	env := apitest.New(t)
	seedMembers(t, env, tenant1, 120)
	m1 := apitest.TeamManager("manager-1", tenant1)
	r := env.Do(m1, membersQuery, map[string]any{"first": 100})
	if len(r.Errors) != 0 {
		t.Fatalf("a page of 100 members: got %s, want it served", r.Raw)
	}
	if req, lim := costOf(t, r); req != fullPageCost || lim != 10000 || req > lim {
		t.Fatalf("got cost %d of limit %d, want %d within the default 10000", req, lim, fullPageCost)
	}
	var out struct {
		Team struct {
			Members struct {
				Edges    []struct{ Node member }
				PageInfo struct{ HasNextPage bool }
			}
		}
	}
	if err := json.Unmarshal(r.Data, &out); err != nil {
		t.Fatal(err)
	}
	if n := len(out.Team.Members.Edges); n != 100 || !out.Team.Members.PageInfo.HasNextPage {
		t.Fatalf("got %d members (more: %v), want 100 and more", n, out.Team.Members.PageInfo.HasNextPage)
	}

	// What stays expensive is refused: two full pages, or a page with a member's list aliased.
	two := `{ team { a: members(first: 100) { edges { node { certifications { code status } } } }
  b: members(first: 100) { edges { node { certifications { code status } } } } } }`
	e := env.MustFail(m1, two, nil, "QUERY_TOO_COMPLEX")
	if c, _ := e.Extensions["cost"].(map[string]any); c == nil || c["requested"] != float64(1+2*(10+100*(2+team.ListedCertifications))) {
		t.Fatalf("two full pages: got %+v, want them priced in full", e.Extensions)
	}
	aliased := `{ team { members(first: 100) { edges { node { a: certifications { code } b: certifications { code } } } } } }`
	env.MustFail(m1, aliased, nil, "QUERY_TOO_COMPLEX")
}

// A member's certifications are listed up to team.ListedCertifications, the bound the cost
// model prices: the nearest expiries, in the page and in the CSV export alike.
func TestTeamMemberCertificationsStopAtTheirBound(t *testing.T) {
	env := apitest.New(t)
	ada := newLearner(t, env, "ada", "Ada Many")
	for i := 1; i <= team.ListedCertifications+1; i++ {
		ada.earn(t, env, "azure-developer-associate", 10, days(i))
	}
	ada.earn(t, env, "azure-fundamentals", 10, nil)
	ada.grant(t, env, tenant1)
	m1 := apitest.TeamManager("manager-1", tenant1)
	pg, _ := members(t, env, m1, 10, "", nil)
	if len(pg.Members) != 1 {
		t.Fatalf("got %d members, want 1", len(pg.Members))
	}
	certs := pg.Members[0].Certifications
	if len(certs) != team.ListedCertifications {
		t.Fatalf("got %d certifications, want the first %d", len(certs), team.ListedCertifications)
	}
	expiries := make([]string, len(certs))
	for i, c := range certs {
		if c.ExpiresOn == nil {
			t.Fatalf("certification %d has no expiry: fundamentals come last and are past the bound", i)
		}
		expiries[i] = *c.ExpiresOn
	}
	last := env.Clock.Now().AddDate(0, 0, team.ListedCertifications).Format("2006-01-02")
	if !slices.IsSorted(expiries) || expiries[len(expiries)-1] != last {
		t.Fatalf("got expiries %v, want the nearest %d, ending %s", expiries, team.ListedCertifications, last)
	}
	_, rows, _ := csvRows(t, env, m1, "")
	if want := graphRows(pg.Members); !slices.EqualFunc(rows, want, slices.Equal) {
		t.Fatalf("CSV rows differ from the page:\n%s\nwant\n%s", join(rows), join(want))
	}
}

func join(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}
