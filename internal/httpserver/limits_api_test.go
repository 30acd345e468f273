package httpserver_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/graph/app/apitest"
)

// send posts query as id from the given address and returns the recorder.
func send(env *apitest.Env, id apitest.Identity, remote, query string, ext map[string]any) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]any{"query": query, "extensions": ext})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if remote != "" {
		req.RemoteAddr = remote
	}
	if id.Subject != "" {
		req.Header.Set("Authorization", "Bearer "+env.Token(id))
	}
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	return rec
}

type rateLimited struct {
	Errors []apitest.Error
}

func assertLimited(t *testing.T, rec *httptest.ResponseRecorder, wantRetryAt time.Time) {
	t.Helper()
	var r rateLimited
	_ = json.Unmarshal(rec.Body.Bytes(), &r)
	if rec.Code != http.StatusTooManyRequests || len(r.Errors) == 0 || r.Errors[0].Code() != "RATE_LIMITED" {
		t.Fatalf("got %d %s, want 429 RATE_LIMITED", rec.Code, rec.Body)
	}
	if got := r.Errors[0].Extensions["retryAt"]; got != wantRetryAt.Format(time.RFC3339) {
		t.Errorf("got retryAt %v, want %s", got, wantRetryAt.Format(time.RFC3339))
	}
	want := fmt.Sprint(int(wantRetryAt.Sub(apitest.Start).Seconds()))
	if got := rec.Header().Get("Retry-After"); got != want {
		t.Errorf("got Retry-After %q, want %q", got, want)
	}
}

func TestRateLimitPerPrincipalAndPerIP(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{
		"RATE_LIMIT_RPS": "0.5", "RATE_LIMIT_BURST": "3", "RATE_LIMIT_ANON_RPS": "0.25", "RATE_LIMIT_ANON_BURST": "2",
	}))
	const q = `{ __typename }`
	alice, bob := apitest.Learner("alice"), apitest.Learner("bob")
	for i := 0; i < 3; i++ {
		if rec := send(env, alice, "10.0.0.1:1", q, nil); rec.Code != 200 {
			t.Fatalf("alice %d: got %d %s", i+1, rec.Code, rec.Body)
		}
	}
	// The 4th request waits for one token at 0.5/s: 2 seconds.
	assertLimited(t, send(env, alice, "10.0.0.1:1", q, nil), apitest.Start.Add(2*time.Second))
	// Another principal from the same address has a bucket of its own.
	if rec := send(env, bob, "10.0.0.1:1", q, nil); rec.Code != 200 {
		t.Fatalf("bob: got %d, want 200", rec.Code)
	}
	// Anonymous callers are limited per IP, with the anonymous rate.
	for i := 0; i < 2; i++ {
		if rec := send(env, apitest.Anonymous, "192.0.2.7:1000", q, nil); rec.Code != 200 {
			t.Fatalf("anonymous %d: got %d", i+1, rec.Code)
		}
	}
	assertLimited(t, send(env, apitest.Anonymous, "192.0.2.7:2000", q, nil), apitest.Start.Add(4*time.Second))
	if rec := send(env, apitest.Anonymous, "192.0.2.8:1000", q, nil); rec.Code != 200 {
		t.Fatalf("another IP: got %d, want 200", rec.Code)
	}
	// Moving the clock refills the bucket; no sleeping.
	env.Clock.Advance(2 * time.Second)
	if rec := send(env, alice, "10.0.0.1:1", q, nil); rec.Code != 200 {
		t.Fatalf("alice after 2s: got %d %s, want 200", rec.Code, rec.Body)
	}
	if got := metric(t, env, `recert_rate_limited_total{limit="request"}`); got != 2 {
		t.Errorf("got %v rate-limited requests in /metrics, want 2", got)
	}
}

func TestCatalogOperationsHaveATighterLimit(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{
		"RATE_LIMIT_RPS": "100", "RATE_LIMIT_BURST": "100",
		"RATE_LIMIT_SUPPORT_PER_MINUTE": "6", "RATE_LIMIT_SUPPORT_BURST": "2",
	}))
	admin := apitest.Admin("root")
	upsert := func(code string) string {
		return `mutation { upsertExam(input: {code: "` + code + `", title: "X", languages: ["en"]}) { exam { code } } }`
	}
	for i := 0; i < 2; i++ {
		if rec := send(env, admin, "", upsert(fmt.Sprintf("Y-%d", i)), nil); rec.Code != 200 || firstCode(t, rec) != "" {
			t.Fatalf("upsert %d: got %d %s", i+1, rec.Code, rec.Body)
		}
	}
	// One token every 10 seconds.
	assertLimited(t, send(env, admin, "", upsert("Y-3"), nil), apitest.Start.Add(10*time.Second))
	// Other operations are not held back.
	if rec := send(env, admin, "", `{ certifications(first: 1) { totalCount } }`, nil); rec.Code != 200 || firstCode(t, rec) != "" {
		t.Fatalf("ordinary query: got %d %s", rec.Code, rec.Body)
	}
	// Each catalog field of a document takes a token, so aliases cannot multiply them; and a
	// mutation is refused before it runs.
	env.Clock.Advance(20 * time.Second)
	two := `mutation { a: upsertExam(input: {code: "X-1", title: "X", languages: ["en"]}) { exam { code } } b: upsertExam(input: {code: "X-2", title: "X", languages: ["en"]}) { exam { code } } c: upsertExam(input: {code: "X-3", title: "X", languages: ["en"]}) { exam { code } } }`
	rec := send(env, admin, "", two, nil)
	if firstCode(t, rec) != "RATE_LIMITED" || rec.Code != http.StatusTooManyRequests {
		t.Fatalf("three catalog fields with a burst of 2: got %d %s, want 429", rec.Code, rec.Body)
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM exams WHERE code LIKE 'X-%'`); err != nil || n != 0 {
		t.Fatalf("got %d exams (%v), want none: the refused mutation ran", n, err)
	}
}

func apq(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func hashOf(q string) string {
	s := sha256.Sum256([]byte(q))
	return hex.EncodeToString(s[:])
}

func TestAutomaticPersistedQueries(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"APQ_MAX_DOCUMENTS": "50"}))
	q := `{ certification(code: "azure-fundamentals") { code } }`
	h := hashOf(q)
	// 1. The hash alone is unknown.
	rec := send(env, apitest.Anonymous, "", "", apq(h))
	if firstCode(t, rec) != "PERSISTED_QUERY_NOT_FOUND" || rec.Code != 200 {
		t.Fatalf("unknown hash: got %d %s, want PERSISTED_QUERY_NOT_FOUND", rec.Code, rec.Body)
	}
	// 2. Hash and query register it.
	if rec := send(env, apitest.Anonymous, "", q, apq(h)); firstCode(t, rec) != "" || !strings.Contains(rec.Body.String(), "azure-fundamentals") {
		t.Fatalf("register: got %s", rec.Body)
	}
	// 3. The hash alone now works, over POST and GET.
	if rec := send(env, apitest.Anonymous, "", "", apq(h)); !strings.Contains(rec.Body.String(), `"code":"azure-fundamentals"`) {
		t.Fatalf("hash only: got %s", rec.Body)
	}
	ext, _ := json.Marshal(apq(h))
	if rec := request(env, "GET", "/graphql?extensions="+url.QueryEscape(string(ext)), "", "", nil); !strings.Contains(rec.Body.String(), `"code":"azure-fundamentals"`) {
		t.Fatalf("GET hash only: got %d %s", rec.Code, rec.Body)
	}
	// A hash that does not match its query is refused, and not stored.
	other := `{ certification(code: "azure-administrator-associate") { code } }`
	if rec := send(env, apitest.Anonymous, "", other, apq(hashOf("something else"))); firstCode(t, rec) != "BAD_USER_INPUT" {
		t.Fatalf("mismatch: got %s", rec.Body)
	}
	// A hostile document is refused before it is stored.
	deep := "{ certification(code: \"x\") " + strings.Repeat("{ renewalAssessment { certification ", 10) + "{ code }" + strings.Repeat("} } ", 10) + "}"
	if rec := send(env, apitest.Anonymous, "", deep, apq(hashOf(deep))); firstCode(t, rec) != "QUERY_TOO_DEEP" {
		t.Fatalf("deep registration: got %s", rec.Body)
	}
	if rec := send(env, apitest.Anonymous, "", "", apq(hashOf(deep))); firstCode(t, rec) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("deep document was stored: %s", rec.Body)
	}
	// The database keeps APQ_MAX_DOCUMENTS (50 here) and each instance 1000 in memory:
	// registering 1000 more evicts the first from both.
	for i := 0; i < 1000; i++ {
		d := fmt.Sprintf("query Q%d { __typename }", i)
		if rec := send(env, apitest.Anonymous, "", d, apq(hashOf(d))); firstCode(t, rec) != "" {
			t.Fatalf("register %d: %s", i, rec.Body)
		}
	}
	if rec := send(env, apitest.Anonymous, "", "", apq(h)); firstCode(t, rec) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("after 1000 more: got %s, want the first evicted", rec.Body)
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM persisted_queries`); err != nil || n != 50 {
		t.Fatalf("got %d stored documents (%v), want APQ_MAX_DOCUMENTS = 50", n, err)
	}
}

// Issue 15 point 2: a hash registered on one instance works on another that shares the
// database, over POST and GET; a hash neither has seen is unknown to both.
func TestPersistedQueriesAcrossInstances(t *testing.T) {
	env := apitest.New(t)
	other := env.Instance()
	on := func(h http.Handler, query string, ext map[string]any) *httptest.ResponseRecorder {
		body, _ := json.Marshal(map[string]any{"query": query, "extensions": ext})
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	a, b := env.Server.Handler(), other.Handler()
	q := `{ certification(code: "azure-fundamentals") { code } }`
	h := hashOf(q)
	if rec := on(b, "", apq(h)); firstCode(t, rec) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash on B: got %s", rec.Body)
	}
	if rec := on(a, q, apq(h)); firstCode(t, rec) != "" {
		t.Fatalf("register on A: got %s", rec.Body)
	}
	if rec := on(b, "", apq(h)); !strings.Contains(rec.Body.String(), `"code":"azure-fundamentals"`) {
		t.Fatalf("hash only on B after registering on A: got %s", rec.Body)
	}
	ext, _ := json.Marshal(apq(h))
	get := httptest.NewRequest(http.MethodGet, "/graphql?extensions="+url.QueryEscape(string(ext)), nil)
	rec := httptest.NewRecorder()
	env.Instance().Handler().ServeHTTP(rec, get) // a third instance, over GET
	if !strings.Contains(rec.Body.String(), `"code":"azure-fundamentals"`) {
		t.Fatalf("GET hash only on a third instance: got %d %s", rec.Code, rec.Body)
	}
}

func TestTrustedDocumentsMode(t *testing.T) {
	trusted := `query Catalog { certifications(first: 3) { totalCount } }`
	manifest, _ := json.Marshal(map[string]any{
		"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]any{{"id": hashOf(trusted), "name": "Catalog", "type": "query", "body": trusted}},
	})
	file := filepath.Join(t.TempDir(), "trusted.json")
	if err := os.WriteFile(file, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	env := apitest.New(t, apitest.WithEnv(map[string]string{"TRUSTED_DOCUMENTS_FILE": file}))
	if rec := send(env, apitest.Anonymous, "", "", apq(hashOf(trusted))); !strings.Contains(rec.Body.String(), `"totalCount":23`) {
		t.Fatalf("trusted hash: got %s", rec.Body)
	}
	if rec := send(env, apitest.Anonymous, "", trusted, nil); !strings.Contains(rec.Body.String(), `"totalCount":23`) {
		t.Fatalf("trusted text: got %s", rec.Body)
	}
	if rec := send(env, apitest.Anonymous, "", `{ __typename }`, nil); firstCode(t, rec) != "FORBIDDEN" {
		t.Fatalf("untrusted text: got %s, want FORBIDDEN", rec.Body)
	}
	// APQ registration does not open a way around the list.
	q := `{ certifications(first: 1) { totalCount } }`
	if rec := send(env, apitest.Anonymous, "", q, apq(hashOf(q))); firstCode(t, rec) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("registration: got %s, want PERSISTED_QUERY_NOT_FOUND", rec.Body)
	}
	if rec := send(env, apitest.Anonymous, "", "", apq(hashOf(q))); firstCode(t, rec) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("after registration: got %s", rec.Body)
	}
}

// adminMetrics reads /metrics from the admin handler (the one ADMIN_LISTEN_ADDR serves).
func adminMetrics(t *testing.T, env *apitest.Env) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	env.Server.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("admin /metrics: got %d, want 200", rec.Code)
	}
	return rec
}

// metric reads one sample of /metrics.
func metric(t *testing.T, env *apitest.Env, series string) float64 {
	t.Helper()
	rec := adminMetrics(t, env)
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, series+" "), &v)
			return v
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	env := apitest.New(t)
	env.MustDo(apitest.Anonymous, `{ certifications(first: 2) { totalCount } }`, nil, nil)
	env.MustFail(apitest.Anonymous, `{ viewer { account { id } } }`, nil, "UNAUTHENTICATED")
	env.MustFail(apitest.Anonymous, "{ a "+strings.Repeat("{ a ", 20)+strings.Repeat("}", 21), nil, "QUERY_TOO_DEEP")
	rec := adminMetrics(t, env)
	body := rec.Body.String()
	for _, want := range []string{
		`recert_graphql_operations_total{operation="query:certifications",outcome="ok"} 1`,
		`recert_graphql_operations_total{operation="query:viewer",outcome="UNAUTHENTICATED"} 1`,
		`recert_graphql_errors_total{code="QUERY_TOO_DEEP"} 1`,
		`recert_rejected_documents_total{reason="depth"} 1`,
		`recert_graphql_operation_seconds_count{operation="query:certifications"} 1`,
		`recert_graphql_operation_cost_count`,
		`recert_http_requests_total{route="/graphql",status="200"} 3`,
		`go_sql_max_open_connections{db_name="recert"}`,
		`recert_reminder_outbox_pending 0`,
		`recert_reminder_outbox_up 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// syncBuffer is a log sink safe for the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStructuredRequestLog(t *testing.T) {
	var logs syncBuffer
	env := apitest.New(t, apitest.WithDeps(func(d *app.Deps) {
		d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	}))
	id := apitest.Learner("logged")
	tok := env.Token(id)
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query Mine { viewer { account { id } } }","operationName":"Mine"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	bad := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(typename))
	bad.Header.Set("Content-Type", "application/json")
	bad.Header.Set("Authorization", "Bearer "+tok+"x")
	env.Server.Handler().ServeHTTP(httptest.NewRecorder(), bad)

	out := logs.String()
	if strings.Contains(out, tok[:40]) {
		t.Fatalf("logs contain the token:\n%s", out)
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["operation_name"] == "Mine" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no request line for Mine:\n%s", out)
	}
	if line["request_id"] != rec.Header().Get("X-Request-Id") || line["principal"] != apitest.Issuer+"|logged" ||
		line["operation"] != "query:viewer" || line["status"] != float64(200) || line["duration_ms"] == nil || line["cost"] != float64(2) {
		t.Errorf("got log line %v", line)
	}
}
