package catalog_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// Issue 11, point 5, for the catalog: the search is folded first and escaped after, so the
// full-width ％ ＿ ＼ (which fold to % _ \) are literal characters, not wildcards. Oracle: a
// certification matches when its folded name contains the folded search, or its code the
// lower-cased search (folded by the database's own search_fold and lower).
func TestCatalogSearchMatchesFoldedSubstrings(t *testing.T) {
	env := apitest.New(t)
	var certs []struct{ Code, Fold string }
	if err := env.DB.Select(&certs, `SELECT code, search_fold(name) AS fold FROM certifications`); err != nil {
		t.Fatal(err)
	}
	sqlText := func(fn, s string) string {
		var out string
		if err := env.DB.Get(&out, `SELECT `+fn+`($1)`, s); err != nil {
			t.Fatal(err)
		}
		return out
	}
	queries := []string{"％", "＿", "＼", "％％％", "a％e", "r＿", "ａｚｕｒｅ", "AZURE ADMIN", "Ａｚｕｒｅ－", "ÉNGINEER", "-104", "％-", "_", "%"}
	rng := rand.New(rand.NewPCG(11, 5))
	alphabet := []string{"a", "z", "u", "r", "e", " ", "-", "é", "Ａ", "％", "＿", "＼", "%", "_", "\\"}
	for range 60 {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		queries = append(queries, b.String())
	}
	selective := 0
	for _, q := range queries {
		var out struct {
			Certifications struct {
				TotalCount int
				Nodes      []struct{ Code string }
			}
		}
		env.MustDo(apitest.Anonymous, `query($s: String) { certifications(first: 100, filter: {search: $s}) {
		  totalCount nodes { code } } }`, map[string]any{"s": q}, &out)
		var got, want []string
		for _, n := range out.Certifications.Nodes {
			got = append(got, n.Code)
		}
		fold, lower := sqlText("search_fold", q), sqlText("lower", q)
		for _, c := range certs {
			if strings.Contains(c.Fold, fold) || strings.Contains(c.Code, lower) {
				want = append(want, c.Code)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || out.Certifications.TotalCount != len(want) {
			t.Errorf("search %q (folded %q): got %v (total %d), want %v", q, fold, got, out.Certifications.TotalCount, want)
		}
		if len(want) > 0 && len(want) < len(certs) {
			selective++
		}
	}
	if selective < 5 {
		t.Errorf("only %d searches matched some but not all certifications; the queries are off", selective)
	}
}
