package certprofile_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/certprofile"
)

// Issue 11, point 5: LIKE wildcards were escaped before search_fold, and unaccent turns the
// full-width ％ ＿ ＼ into % _ \, so "％％％" listed every profile. Folding also lengthens and
// shortens text (⑽ is "(10)", a combining accent is nothing), so the 3-character rule counts
// folded characters.
func TestSearchFullWidthWildcardsAreLiteral(t *testing.T) {
	env := apitest.New(t)
	alice := create(t, env, apitest.Learner("alice"), "Alice Liddell", "alice@example.com")
	create(t, env, apitest.Learner("bob"), "Bob Builder", "bob@example.com")
	pct := create(t, env, apitest.Learner("pct"), "Ann 100% Sure", "pct@example.com")
	for _, q := range []string{"％％％", "＿＿＿", "＼＼＼", "％_％", "%％%"} {
		if out := search(t, env, q, 20, nil); len(out.SearchCertificationProfiles.Nodes) != 0 || out.SearchCertificationProfiles.TotalCount != 0 {
			t.Errorf("query %q: got %v (total %d), want nothing", q, mcids(out), out.SearchCertificationProfiles.TotalCount)
		}
	}
	cases := []struct{ q, want string }{
		{"0％ ｓ", pct.MCID},          // full-width letters fold to ASCII too
		{"lic％", ""},                // the ％ is a literal percent sign: nobody's name has "lic%"
		{"ice＿", ""},                // likewise a literal underscore
		{"⑽", ""},                   // one character, four once folded: long enough
		{"al\u0301ice", alice.MCID}, // the combining accent folds away
	}
	for _, c := range cases {
		out := search(t, env, c.q, 20, nil)
		var want []string
		if c.want != "" {
			want = []string{c.want}
		}
		if got := mcids(out); !slices.Equal(got, want) {
			t.Errorf("query %q: got %v, want %v", c.q, got, want)
		}
	}
	// Three characters, but one once folded.
	env.MustFail(apitest.Support("agent"), searchQuery, map[string]any{"q": "a\u0301\u0301"}, "BAD_USER_INPUT")
	env.MustFail(apitest.Support("agent"), searchQuery, map[string]any{"q": "æ"}, "BAD_USER_INPUT")
}

// searchAlphabet mixes letters, accents, LIKE's wildcards and escape in their ASCII and
// full-width forms, CJK, a combining accent and characters folding to several.
var searchAlphabet = []string{
	"a", "b", "c", "A", "B", "é", "É", "è", "ß", "æ", "ﬁ", "⑽", "日", "本",
	"%", "_", "\\", "％", "＿", "＼", "\u0301", " ",
}

// variants are spellings that fold the same, used to disguise a part of a name as a query.
var variants = map[string][]string{
	"a": {"A", "á", "ａ"}, "b": {"B", "ｂ"}, "c": {"C", "ç"}, "é": {"e", "E", "É"}, "e": {"é", "ｅ"},
	"%": {"％"}, "％": {"%"}, "_": {"＿"}, "＿": {"_"}, "\\": {"＼"}, "＼": {"\\"},
}

// Property: for random queries over searchAlphabet, the support search returns exactly the
// profiles whose folded legal name contains the folded query (folded by the database's own
// search_fold, so the oracle does not reimplement unaccent), and refuses a query shorter than
// 3 characters once folded.
func TestSearchMatchesFoldedSubstringsProperty(t *testing.T) {
	env := apitest.New(t)
	rng := rand.New(rand.NewPCG(11, 5))
	randomText := func(min, max int) string {
		var b strings.Builder
		for range min + rng.IntN(max-min+1) {
			b.WriteString(searchAlphabet[rng.IntN(len(searchAlphabet))])
		}
		return b.String()
	}
	var names []string
	for i := range 40 {
		name := "abcAÉ"[i%4:i%4+1] + randomText(2, 12)
		names = append(names, name)
		create(t, env, apitest.Learner(fmt.Sprintf("p%02d", i)), name, fmt.Sprintf("p%02d@example.com", i))
	}
	var folded []struct{ MCID, Fold string }
	if err := env.DB.Select(&folded, `SELECT mcid::text AS mcid, search_fold(legal_name) AS fold FROM certification_profiles`); err != nil {
		t.Fatal(err)
	}
	fold := func(s string) string {
		var f string
		if err := env.DB.Get(&f, `SELECT search_fold($1)`, s); err != nil {
			t.Fatal(err)
		}
		return f
	}
	matched, refused := 0, 0
	for i := range 200 {
		var q string
		if i%2 == 0 { // a disguised piece of a name, so that most of these match something
			r := []rune(names[rng.IntN(len(names))])
			from := rng.IntN(len(r))
			to := min(len(r), from+2+rng.IntN(5))
			var b strings.Builder
			for _, c := range r[from:to] {
				s := string(c)
				if v := variants[s]; len(v) > 0 && rng.IntN(2) == 0 {
					s = v[rng.IntN(len(v))]
				}
				b.WriteString(s)
			}
			q = b.String()
		} else {
			q = randomText(2, 7)
		}
		trimmed := strings.TrimSpace(q)
		r := env.Do(apitest.Support("agent"), searchQuery, map[string]any{"q": q, "first": 100})
		if trimmed == "" || utf8.RuneCountInString(fold(trimmed)) < certprofile.MinNameQuery {
			if len(r.Errors) == 0 || r.Errors[0].Code() != "BAD_USER_INPUT" {
				t.Errorf("query %q (folded %q): got %s, want BAD_USER_INPUT", q, fold(trimmed), r.Raw)
			}
			refused++
			continue
		}
		if len(r.Errors) > 0 {
			t.Errorf("query %q: got %s", q, r.Raw)
			continue
		}
		var out searchOut
		if err := json.Unmarshal(r.Data, &out); err != nil {
			t.Fatal(err)
		}
		fq := fold(trimmed)
		var want []string
		for _, p := range folded {
			if strings.Contains(p.Fold, fq) {
				want = append(want, p.MCID)
			}
		}
		slices.Sort(want)
		got := mcids(out)
		if !slices.Equal(got, want) || out.SearchCertificationProfiles.TotalCount != len(want) {
			t.Errorf("query %q (folded %q): got %v (total %d), want %v", q, fq, got, out.SearchCertificationProfiles.TotalCount, want)
		}
		if len(want) > 0 && len(want) < len(folded) {
			matched++
		}
	}
	t.Logf("%d queries matched some but not all profiles, %d were refused as too short", matched, refused)
	if matched < 30 || refused < 5 {
		t.Errorf("the generator is off: %d selective matches, %d refusals", matched, refused)
	}
}

// The longest cursor the server makes must pass the cap on cursors (querylimits.MaxCursorLength):
// a legal name of 200 «, which fold to << and which JSON escapes, 12 bytes each.
func TestLongestSearchCursorIsAccepted(t *testing.T) {
	env := apitest.New(t)
	name := strings.Repeat("«", 200)
	create(t, env, apitest.Learner("a"), name, "a@example.com")
	create(t, env, apitest.Learner("b"), name, "b@example.com")
	first := search(t, env, "«««", 1, nil)
	cur := first.SearchCertificationProfiles.PageInfo.EndCursor
	if cur == nil || !first.SearchCertificationProfiles.PageInfo.HasNextPage {
		t.Fatalf("got %+v, want a first page of one and a cursor", first)
	}
	t.Logf("cursor of %d characters", len(*cur))
	if second := search(t, env, "«««", 1, cur); len(second.SearchCertificationProfiles.Nodes) != 1 {
		t.Fatalf("got %+v, want the second profile", second)
	}
}
