package httpserver_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// aliasedShares asks for a learner's profiles with n aliased copies of their share lists.
func aliasedShares(n int) string {
	var b strings.Builder
	b.WriteString("{ viewer { certificationProfiles {")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " s%d: transcriptShares { id code }", i)
	}
	b.WriteString(" } } }")
	return b.String()
}

// Plain lists are priced by the bounds their resolvers keep, configured caps included: the
// same fan-out runs under the default caps and is refused when the share cap is raised.
func TestListFanOutIsPricedByTheConfiguredCaps(t *testing.T) {
	q := aliasedShares(30)
	env := apitest.New(t)
	ada := apitest.Learner("ada")
	r := env.Do(ada, q, nil)
	// viewer 1 + 5 profiles × (1 + 30 lists × 40 shares × 1)
	if len(r.Errors) != 0 || requestedCost(r) != 1+5*(1+30*40) {
		t.Fatalf("default caps: got cost %d, errors %s; want %d and none", requestedCost(r), r.Raw, 1+5*(1+30*40))
	}

	env = apitest.New(t, apitest.WithEnv(map[string]string{"MAX_LIVE_SHARES_PER_PROFILE": "100"}))
	e := env.MustFail(ada, q, nil, "QUERY_TOO_COMPLEX")
	if c, _ := e.Extensions["cost"].(map[string]any); c == nil || c["requested"] != float64(1+5*(1+30*200)) {
		t.Fatalf("got %+v, want the cost priced at 200 shares a list (twice the cap of 100)", e.Extensions)
	}
}

// The anonymous transcript is priced by the bounds of its lists and of the catalog lists below
// them, so nesting them is refused before anything runs.
func TestPublicTranscriptFanOutIsRefused(t *testing.T) {
	env := apitest.New(t)
	q := `{ transcript(shareCode: "not-a-code-but-priced-first") { certifications { certification { prerequisites { requirementPaths { code } } } } } }`
	e := env.MustFail(apitest.Identity{}, q, nil, "QUERY_TOO_COMPLEX")
	if c, _ := e.Extensions["cost"].(map[string]any); c == nil || c["requested"] != float64(1+100*(1+1+10*(1+25))) {
		t.Fatalf("got %+v, want 100 certifications × 10 prerequisites × 25 exams priced", e.Extensions)
	}
	// What an employer's page asks stays well within the limit.
	r := env.Do(apitest.Identity{}, `{ transcript(shareCode: "not-a-code-but-priced-first") { legalName mcid
  certifications { certification { code name level } earnedOn expiresOn status } examResults { exam { code title } passed takenAt } } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("got %s, want the query run (NOT_FOUND for an unknown code)", r.Raw)
	}
}

// requestedCost reads extensions.cost.requested of a response.
func requestedCost(r apitest.Response) int {
	var out struct {
		Extensions struct{ Cost struct{ Requested int } }
	}
	if err := json.Unmarshal(r.Raw, &out); err != nil {
		return -1
	}
	return out.Extensions.Cost.Requested
}
