package httpserver_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/graph/app/apitest"
)

// lockedBuffer collects the server's log lines; handlers may log from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withLogs makes the server log everything, down to debug, into the returned buffer.
func withLogs() (apitest.Option, *lockedBuffer) {
	buf := &lockedBuffer{}
	return apitest.WithDeps(func(d *app.Deps) {
		d.Log = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}), buf
}

// jsonRequest is an anonymous POST of a JSON body written by hand.
func jsonRequest(body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// wantBadInput checks that r failed with BAD_USER_INPUT only and returns the first error.
func wantBadInput(t *testing.T, name string, r apitest.Response) apitest.Error {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Errorf("%s: got %.300s, want BAD_USER_INPUT", name, r.Raw)
		return apitest.Error{}
	}
	for _, e := range r.Errors {
		if e.Code() != "BAD_USER_INPUT" {
			t.Errorf("%s: got %.300s, want BAD_USER_INPUT", name, r.Raw)
			break
		}
	}
	return r.Errors[0]
}

// Issue 11, point 4: an anonymous request with 20 aliases of an 800 KB catalog search was
// run, 20 times over, by PostgreSQL. The cap refuses it before any SQL.
func TestLongCatalogSearchIsRefusedBeforeAnySQL(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	var q strings.Builder
	q.WriteString(`query($s: String) {`)
	for i := range 20 {
		fmt.Fprintf(&q, " a%d: certifications(first: 1, filter: {search: $s}) { totalCount nodes { code } }", i)
	}
	q.WriteString(" }")
	big := strings.Repeat("x", 800<<10)
	before := env.Statements()
	start := time.Now()
	r := env.Do(apitest.Anonymous, q.String(), map[string]any{"s": big})
	t.Logf("answered in %v", time.Since(start)) // 20 × about 0.2 s before the cap; no assertion on time
	e := wantBadInput(t, "800 KB search", r)
	if got := env.Statements() - before; got != 0 {
		t.Errorf("the refused request ran %d SQL statements, want 0", got)
	}
	if e.Extensions["argument"] != "a0.filter.search" || e.Extensions["maxLength"] != float64(200) {
		t.Errorf("got extensions %v, want argument a0.filter.search and maxLength 200", e.Extensions)
	}
	if strings.Contains(string(r.Raw), "xxxxxxxx") {
		t.Errorf("the error quotes the value: %.300s", r.Raw)
	}
	if len(r.Raw) > 2000 {
		t.Errorf("got a %d-byte response, want one short error", len(r.Raw))
	}
}

// Every String and ID value is capped wherever it is written: literally or in variables, in
// input objects, in nested lists and in fragments; a value of exactly the cap gets through
// to the resolver.
func TestEveryStringArgumentHasAMaximumLength(t *testing.T) {
	env := apitest.New(t)
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name     string
		id       apitest.Identity
		query    string
		vars     map[string]any
		argument string
		max      float64
	}{
		{"search literal", apitest.Anonymous,
			`{ certifications(filter: {search: "` + long(201) + `"}) { totalCount } }`, nil,
			"certifications.filter.search", 200},
		{"search in a variable object", apitest.Anonymous,
			`query($f: CertificationFilter) { certifications(filter: $f) { totalCount } }`,
			map[string]any{"f": map[string]any{"search": long(201)}},
			"certifications.filter.search", 200},
		{"search in a fragment", apitest.Anonymous,
			`query($s: String) { ...F } fragment F on Query { certifications(filter: {search: $s}) { totalCount } }`,
			map[string]any{"s": long(201)},
			"certifications.filter.search", 200},
		{"certification code", apitest.Anonymous,
			`query($c: String!) { certification(code: $c) { code } }`, map[string]any{"c": long(101)},
			"certification.code", 100},
		{"share code", apitest.Anonymous,
			`query($c: String!) { transcript(shareCode: $c) { mcid } }`, map[string]any{"c": long(101)},
			"transcript.shareCode", 100},
		{"cursor", apitest.Anonymous,
			`query($a: String) { certifications(after: $a) { totalCount } }`, map[string]any{"a": long(4097)},
			"certifications.after", 4096},
		{"node id", apitest.Anonymous,
			`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": long(129)},
			"node.id", 128},
		{"nested cursor", apitest.Learner("ada"),
			`query($a: String) { viewer { certificationProfiles { examResults(after: $a) { totalCount } } } }`,
			map[string]any{"a": long(4097)}, "viewer.certificationProfiles.examResults.after", 4096},
		{"support search", apitest.Support("agent"),
			`query($q: String!) { searchCertificationProfiles(query: $q) { totalCount } }`,
			map[string]any{"q": long(201)}, "searchCertificationProfiles.query", 200},
		{"exam code in a nested input list", apitest.Admin("root"),
			`mutation($p: [[String!]!]!) { upsertCertification(input: {code: "x", name: "X", level: ASSOCIATE,
			  releasedOn: "2020-01-01", languages: ["en"], requirementPaths: $p}) { certification { code } } }`,
			map[string]any{"p": []any{[]any{"EX-1"}, []any{"EX-2", long(101)}}},
			"upsertCertification.input.requirementPaths[1][1]", 100},
		{"choice text in a list of input objects", apitest.Admin("root"),
			`mutation($in: PublishRenewalAssessmentInput!) { publishRenewalAssessment(input: $in) { renewalAssessment { version } } }`,
			map[string]any{"in": map[string]any{"certificationCode": "X", "questions": []any{
				map[string]any{"prompt": "Q", "choices": []any{map[string]any{"text": "ok", "correct": true},
					map[string]any{"text": long(2001), "correct": false}}}}}},
			"publishRenewalAssessment.input.questions[0].choices[1].text", 2000},
		{"custom scalar", apitest.ExamDelivery(),
			`mutation($at: DateTime!) { recordExamResult(input: {mcid: "1", examCode: "X", passed: true,
			  takenAt: $at, externalId: "e"}) { examResult { id } } }`,
			map[string]any{"at": "2021-01-01T00:00:00" + long(60) + "Z"},
			"recordExamResult.input.takenAt", 64},
	}
	for _, c := range cases {
		e := wantBadInput(t, c.name, env.Do(c.id, c.query, c.vars))
		if e.Extensions["argument"] != c.argument || e.Extensions["maxLength"] != c.max {
			t.Errorf("%s: got extensions %v, want argument %s and maxLength %v", c.name, e.Extensions, c.argument, c.max)
		}
	}

	// At the cap, the value reaches the resolver: a search of 200 characters runs (and finds
	// nothing), a code of 100 characters is simply unknown.
	var out struct {
		Certifications struct{ TotalCount int }
		Certification  *struct{ Code string }
	}
	env.MustDo(apitest.Anonymous, `query($s: String, $c: String!) {
	  certifications(filter: {search: $s}) { totalCount } certification(code: $c) { code } }`,
		map[string]any{"s": strings.Repeat("é", 200), "c": long(100)}, &out)
	if out.Certifications.TotalCount != 0 || out.Certification != nil {
		t.Errorf("got %+v, want no match", out)
	}
}

// Issue 11, point 6: PostgreSQL cannot store NUL characters (nor invalid UTF-8); such a
// value used to reach it, fail with 22021 and come back INTERNAL with an error-level log
// line, anonymously. Now it is BAD_USER_INPUT, logged no louder than debug.
func TestValuesPostgresCannotStoreAreBadUserInput(t *testing.T) {
	logs, buf := withLogs()
	env := apitest.New(t, logs)
	cursor := func(keys string) string { return base64.RawURLEncoding.EncodeToString([]byte(keys)) }
	const id = "00000000-0000-0000-0000-000000000001"
	cases := []struct {
		name  string
		who   apitest.Identity
		query string
		vars  map[string]any
	}{
		{"share code with NUL", apitest.Anonymous,
			`query($c: String!) { transcript(shareCode: $c) { mcid } }`, map[string]any{"c": "a\x00b"}},
		{"share code literal with NUL", apitest.Anonymous,
			`{ transcript(shareCode: "a\u0000b") { mcid } }`, nil},
		{"certification code with NUL", apitest.Anonymous,
			`query($c: String!) { certification(code: $c) { code } }`, map[string]any{"c": "AZ\x00900"}},
		{"catalog search with NUL", apitest.Anonymous,
			`query($s: String) { certifications(filter: {search: $s}) { totalCount } }`, map[string]any{"s": "az\x00"}},
		{"catalog cursor with NUL", apitest.Anonymous,
			`query($a: String) { certifications(after: $a) { totalCount } }`, map[string]any{"a": "\x00"}},
		{"catalog cursor whose key holds NUL", apitest.Anonymous,
			`query($a: String) { certifications(after: $a) { nodes { code } } }`,
			map[string]any{"a": cursor(`["AZ\u0000"]`)}},
		{"support search with NUL", apitest.Support("agent"),
			`query($q: String!) { searchCertificationProfiles(query: $q) { totalCount } }`, map[string]any{"q": "ali\x00ce"}},
		{"support cursor whose key holds NUL", apitest.Support("agent"),
			`query($a: String) { searchCertificationProfiles(query: "alice", after: $a) { nodes { mcid } } }`,
			map[string]any{"a": cursor(`["ali\u0000ce","` + id + `"]`)}},
		{"MCID with NUL", apitest.Learner("ada"),
			`query($m: String!) { certificationProfile(mcid: $m) { mcid } }`, map[string]any{"m": "12\x0034"}},
		{"legal name with NUL", apitest.Learner("ada"),
			`mutation { createCertificationProfile(input: {legalName: "Ada\u0000", email: "ada@example.com"}) { certificationProfile { mcid } } }`, nil},
	}
	for _, c := range cases {
		wantBadInput(t, c.name, env.Do(c.who, c.query, c.vars))
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
			t.Errorf("got log line %s, want nothing above info", line)
		}
	}
}

// JSON cannot carry invalid UTF-8: a lone surrogate escape arrives as U+FFFD, which
// PostgreSQL stores like any character, so such a request runs normally.
func TestLoneSurrogatesArriveAsReplacementCharacters(t *testing.T) {
	logs, buf := withLogs()
	env := apitest.New(t, logs)
	body := `{"query": "query($c: String!, $s: String) { certification(code: $c) { code } certifications(filter: {search: $s}) { totalCount } }",
	  "variables": {"c": "AZ\ud800", "s": "\udfffab\ud800"}}`
	r := env.Send(jsonRequest(body))
	if len(r.Errors) != 0 || !strings.Contains(string(r.Data), `"certification":null`) {
		t.Errorf("got %s, want data and no errors", r.Raw)
	}
	if strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("got error logs:\n%s", buf.String())
	}
}
