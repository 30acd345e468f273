package httpserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

// hostile is a document built to cost the server a lot, and what the server must answer.
type hostile struct {
	name   string
	body   []byte // the whole POST body
	status int    // HTTP status with Accept: application/json
	code   string // extensions.code of the first error
	msg    string // part of its message (which limit refused it)
}

func gqlBody(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// fanOut is a chain of n fragments in which each spreads the next twice: expanded naively it
// has 2^n leaves.
func fanOut(n int, leaf string) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { %s }\n", n, leaf)
	return b.String()
}

// nestedFanOut doubles the work at every level with an alias: 2^n certification loads if
// nothing priced it.
func nestedFanOut(n int) string {
	var b strings.Builder
	b.WriteString("query { certification(code: \"azure-administrator-associate\") { ...C0 } }\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "fragment C%d on Certification { prerequisites { ...C%d } again: prerequisites { ...C%d } }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment C%d on Certification { code }\n", n)
	return b.String()
}

func repeat(format string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

func hostileDocuments() []hostile {
	deep := "{ certification(code: \"x\") " + strings.Repeat("{ renewalAssessment { certification ", 10) + "{ code }" + strings.Repeat("} } ", 10) + "}"
	deepUnknown := strings.Repeat("{ a ", 900) + "{ b }" + strings.Repeat("}", 900)
	deepFragments := "{ certification(code: \"x\") { ...D0 } }\n"
	for i := 0; i < 12; i++ {
		deepFragments += fmt.Sprintf("fragment D%d on Certification { renewalAssessment { certification { ...D%d } } }\n", i, i+1)
	}
	deepFragments += "fragment D12 on Certification { code }\n"
	page := "query($n: Int) { certifications(first: $n) { nodes { code } } }"
	return []hostile{
		{"deep", gqlBody(deep, nil), 200, "QUERY_TOO_DEEP", "nests fields 22 deep"},
		{"deep unknown fields (900 levels)", gqlBody(deepUnknown, nil), 200, "QUERY_TOO_DEEP", "nests fields 901 deep"},
		{"deep through fragments", gqlBody(deepFragments, nil), 200, "QUERY_TOO_DEEP", "nests fields 26 deep"},
		{"wide (5000 fields)", gqlBody("{ certifications { nodes { "+strings.Repeat("code ", 5000)+"} } }", nil), 200, "QUERY_TOO_COMPLEX", "tokens"},
		{"aliased (500 aliases)", gqlBody("{ "+repeat("a%d: __typename ", 500)+"}", nil), 200, "QUERY_TOO_COMPLEX", "aliases"},
		{"aliased mutations", gqlBody("mutation { "+repeat("m%d: createCertificationProfile(input: {legalName: \"A\", email: \"a@example.com\"}) { certificationProfile { mcid } } ", 40)+"}", nil), 200, "QUERY_TOO_COMPLEX", "aliases"},
		{"directive flood", gqlBody("{ __typename "+strings.Repeat("@include(if: true) ", 100)+"}", nil), 200, "QUERY_TOO_COMPLEX", "directives"},
		{"fragment fan-out (200 fragments)", gqlBody(fanOut(200, "__typename"), nil), 200, "QUERY_TOO_COMPLEX", "fragments"},
		{"fragment fan-out within the fragment limits (2^45 expanded)", gqlBody(fanOut(45, "certifications(first: 5) { totalCount }"), nil), 200, "QUERY_TOO_COMPLEX", "costs"},
		{"spread flood", gqlBody("{ ...S "+strings.Repeat("...S ", 200)+"} fragment S on Query { __typename }", nil), 200, "QUERY_TOO_COMPLEX", "spreads"},
		{"nested fragment fan-out (2^25 expanded)", gqlBody(nestedFanOut(25), nil), 200, "QUERY_TOO_DEEP", "deep"},
		{"nested fragment fan-out within depth", gqlBody(nestedFanOut(6), nil), 200, "QUERY_TOO_COMPLEX", "costs"},
		{"huge first", gqlBody("{ certifications(first: 1000000000) { nodes { code } } }", nil), 200, "BAD_USER_INPUT", "first must be between 1 and 100"},
		{"huge first in a variable", gqlBody(page, map[string]any{"n": 2147483647}), 200, "BAD_USER_INPUT", "first must be between 1 and 100"},
		{"first beyond Int", gqlBody(page, map[string]any{"n": 1e30}), 200, "BAD_USER_INPUT", ""},
		{"negative first", gqlBody(page, map[string]any{"n": -5}), 200, "BAD_USER_INPUT", "first must be between 1 and 100"},
		{"nested pages (cost bomb)", gqlBody(`{ viewer { certificationProfiles { certifications(first: 100) { nodes { attempts { questions { choices { text } } } } } } } }`, nil), 200, "QUERY_TOO_COMPLEX", "costs"},
		{"token flood", gqlBody("{ "+strings.Repeat("a ", 5000)+"}", nil), 200, "QUERY_TOO_COMPLEX", "tokens"},
		{"oversized document", gqlBody("{ __typename }"+strings.Repeat("#", 40<<10), nil), 200, "QUERY_TOO_COMPLEX", "larger than"},
		{"oversized body", gqlBody("{ __typename }", map[string]any{"pad": strings.Repeat("x", 2<<20)}), 413, "BAD_USER_INPUT", "too large"},
	}
}

func postBody(env *apitest.Env, body []byte) (*httptest.ResponseRecorder, time.Duration) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+env.Token(apitest.Learner("hostile")))
	rec := httptest.NewRecorder()
	start := time.Now()
	env.Server.Handler().ServeHTTP(rec, req)
	return rec, time.Since(start)
}

// TestHostileDocumentsAreRejectedCheaply sends one document of every hostile class. Each is
// refused with its code before any resolver runs (no data entry at all; no row written), in
// under 100 ms.
func TestHostileDocumentsAreRejectedCheaply(t *testing.T) {
	env := apitest.New(t)
	for _, h := range hostileDocuments() {
		t.Run(h.name, func(t *testing.T) {
			// The fastest of up to 20 tries must be under 100 ms: a rejection that is
			// cheap has many chances on a busy machine, one that is not never makes it.
			var rec *httptest.ResponseRecorder
			fastest := time.Hour
			for i := 0; i < 20 && fastest > 100*time.Millisecond; i++ {
				var d time.Duration
				rec, d = postBody(env, h.body)
				fastest = min(fastest, d)
			}
			if rec.Code != h.status {
				t.Fatalf("got status %d, want %d\n%.400s", rec.Code, h.status, rec.Body)
			}
			var resp struct {
				Data   *json.RawMessage `json:"data"`
				Errors []apitest.Error  `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("decode: %v\n%.400s", err, rec.Body)
			}
			if len(resp.Errors) == 0 || resp.Errors[0].Code() != h.code || !strings.Contains(resp.Errors[0].Message, h.msg) {
				t.Fatalf("got %.400s, want code %s, message with %q", rec.Body, h.code, h.msg)
			}
			if bytes.Contains(rec.Body.Bytes(), []byte(`"data"`)) {
				t.Errorf("got a data entry, want none (nothing may run)\n%.400s", rec.Body)
			}
			if fastest > 100*time.Millisecond {
				t.Errorf("rejection took %v, want under 100ms", fastest)
			}
		})
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM certification_profiles`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("got %d certification profiles, want 0: a refused mutation ran", n)
	}
}

// BenchmarkHostileDocuments times the rejection of each hostile class through the real handler.
func BenchmarkHostileDocuments(b *testing.B) {
	env := apitest.New(b)
	for _, h := range hostileDocuments() {
		b.Run(strings.NewReplacer(" ", "_", "(", "", ")", "").Replace(h.name), func(b *testing.B) {
			for b.Loop() {
				if rec, _ := postBody(env, h.body); rec.Code != h.status {
					b.Fatalf("got status %d, want %d", rec.Code, h.status)
				}
			}
		})
	}
}
