package httpserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/httpserver"
)

// defaultLimits turns every rate limit back to its documented default (apitest turns them off).
var defaultLimits = map[string]string{
	"RATE_LIMIT_RPS": "", "RATE_LIMIT_ANON_RPS": "", "RATE_LIMIT_SUPPORT_PER_MINUTE": "",
	"RATE_LIMIT_SUPPORT_READS_PER_MINUTE": "", "RATE_LIMIT_MERGES_PER_MINUTE": "",
	"RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "",
}

// sendFrom posts query as id from the peer address remote with extra headers.
func sendFrom(env *apitest.Env, id apitest.Identity, remote string, header http.Header, query string, vars map[string]any) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	req.RemoteAddr = remote
	if id.Subject != "" {
		req.Header.Set("Authorization", "Bearer "+env.Token(id))
	}
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	return rec
}

type profileRef struct{ ID, MCID string }

// createProfile makes owner a new certification profile through the API.
func createProfile(t *testing.T, env *apitest.Env, owner apitest.Identity, name string) profileRef {
	t.Helper()
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile profileRef }
	}
	env.MustDo(owner, `mutation($in: CreateCertificationProfileInput!) {
		createCertificationProfile(input: $in) { certificationProfile { id mcid } } }`,
		map[string]any{"in": map[string]any{"legalName": name, "email": owner.Subject + "." + name + "@example.com"}}, &out)
	return out.CreateCertificationProfile.CertificationProfile
}

const mergeOp = `mutation($in: MergeCertificationProfilesInput!) {
  mergeCertificationProfiles(input: $in) { survivor { mcid } duplicate { status } } }`

func mergeVars(survivor, duplicate profileRef, key string) map[string]any {
	return map[string]any{"in": map[string]any{
		"survivorId": survivor.ID, "duplicateId": duplicate.ID, "reason": "registered twice", "idempotencyKey": key}}
}

// A de-duplication tool fires 20 merges at once with one support token: with the default
// limits every one of them runs (before issue 11 the support burst of 10 refused half).
func TestTwentyMergesAtOnceWithDefaultLimits(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(defaultLimits))
	const n = 20
	type pair struct{ survivor, duplicate profileRef }
	pairs := make([]pair, n)
	for i := range pairs {
		owner := apitest.Learner(fmt.Sprintf("twice-%d", i))
		pairs[i] = pair{createProfile(t, env, owner, "first"), createProfile(t, env, owner, "second")}
	}
	tool := apitest.Support("dedupe-tool")
	recs := make([]*httptest.ResponseRecorder, n)
	var ready, wg sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	wg.Add(n)
	for i, p := range pairs {
		go func() {
			defer wg.Done()
			ready.Done()
			<-start
			recs[i] = sendFrom(env, tool, "192.0.2.30:4000", nil, mergeOp, mergeVars(p.survivor, p.duplicate, fmt.Sprintf("dedupe-%d", i)))
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	for i, rec := range recs {
		if rec.Code != http.StatusOK || firstCode(t, rec) != "" {
			t.Errorf("merge %d: got %d %s, want it done", i+1, rec.Code, rec.Body)
		}
	}
	var merged int
	if err := env.DB.Get(&merged, `SELECT count(*) FROM certification_profiles WHERE merged_into IS NOT NULL`); err != nil || merged != n {
		t.Fatalf("got %d merged profiles (%v), want %d", merged, err, n)
	}
}

// Staff reads by key (certificationProfile(mcid), node, search) take tokens of a support-reads
// bucket, so a support token cannot walk the sequential MCIDs; merges have a bucket of their
// own and go on; a learner reading their own profile is not charged.
func TestSupportReadsHaveTheirOwnBucket(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{
		"RATE_LIMIT_RPS": "100", "RATE_LIMIT_BURST": "100",
		"RATE_LIMIT_SUPPORT_READS_PER_MINUTE": "6", "RATE_LIMIT_SUPPORT_READS_BURST": "3",
		"RATE_LIMIT_MERGES_PER_MINUTE": "", "RATE_LIMIT_SUPPORT_PER_MINUTE": "",
	}))
	owner := apitest.Learner("enumerated")
	survivor, duplicate := createProfile(t, env, owner, "first"), createProfile(t, env, owner, "second")
	agent := apitest.Support("walker")
	byMCID := func(mcid string) string {
		return `{ certificationProfile(mcid: "` + mcid + `") { mcid } }`
	}
	for i := 0; i < 3; i++ {
		if rec := send(env, agent, "", byMCID(survivor.MCID), nil); rec.Code != 200 || firstCode(t, rec) != "" {
			t.Fatalf("read %d: got %d %s", i+1, rec.Code, rec.Body)
		}
	}
	// One token every 10 seconds, for every kind of lookup.
	retryAt := apitest.Start.Add(10 * time.Second)
	assertLimited(t, send(env, agent, "", byMCID(duplicate.MCID), nil), retryAt)
	assertLimited(t, send(env, agent, "", `{ node(id: "`+survivor.ID+`") { id } }`, nil), retryAt)
	assertLimited(t, send(env, agent, "", `{ searchCertificationProfiles(query: "first", first: 5) { totalCount } }`, nil), retryAt)
	// Aliases do not get around it.
	env.Clock.Advance(10 * time.Second)
	if rec := send(env, agent, "", `{ a: certificationProfile(mcid: "1") { mcid } b: certificationProfile(mcid: "2") { mcid } }`, nil); firstCode(t, rec) != "RATE_LIMITED" {
		t.Fatalf("two aliased lookups with one token: got %d %s, want RATE_LIMITED", rec.Code, rec.Body)
	}
	// Merges are charged to their own bucket.
	rec := sendFrom(env, agent, "192.0.2.1:1234", nil, mergeOp, mergeVars(survivor, duplicate, "reads-test"))
	if rec.Code != 200 || firstCode(t, rec) != "" {
		t.Fatalf("merge while reads are limited: got %d %s, want it done", rec.Code, rec.Body)
	}
	// The owner reading their own profile is not a support read.
	for i := 0; i < 5; i++ {
		if rec := send(env, owner, "", byMCID(survivor.MCID), nil); rec.Code != 200 || firstCode(t, rec) != "" {
			t.Fatalf("owner read %d: got %d %s", i+1, rec.Code, rec.Body)
		}
	}
	if got := metric(t, env, `recert_rate_limited_total{limit="support_reads"}`); got != 4 {
		t.Errorf("got %v support-read refusals in /metrics, want 4", got)
	}
	if len(httpserver.SupportReads) != 3 || len(httpserver.MergeOperations) != 2 || len(httpserver.CatalogOperations) != 3 {
		t.Errorf("buckets: reads %v merges %v catalog %v", httpserver.SupportReads, httpserver.MergeOperations, httpserver.CatalogOperations)
	}
}

// Behind a load balancer, anonymous callers are told apart by the forwarded client address,
// but only when the connection comes from a trusted proxy: a header from anyone else is ignored.
func TestClientAddressFromTrustedProxiesOnly(t *testing.T) {
	const q = `{ __typename }`
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	t.Run("X-Forwarded-For", func(t *testing.T) {
		env := apitest.New(t, apitest.WithEnv(map[string]string{
			"RATE_LIMIT_ANON_RPS": "0.25", "RATE_LIMIT_ANON_BURST": "2", "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
		}))
		// Two employers behind the proxy have a bucket each.
		for i := 0; i < 2; i++ {
			if rec := sendFrom(env, apitest.Anonymous, "10.1.2.3:5000", xff("198.51.100.1"), q, nil); rec.Code != 200 {
				t.Fatalf("client 1 request %d: got %d", i+1, rec.Code)
			}
		}
		assertLimited(t, sendFrom(env, apitest.Anonymous, "10.1.2.3:5000", xff("198.51.100.1"), q, nil), apitest.Start.Add(4*time.Second))
		if rec := sendFrom(env, apitest.Anonymous, "10.1.2.3:5000", xff("198.51.100.2"), q, nil); rec.Code != 200 {
			t.Fatalf("client 2 behind the same proxy: got %d %s, want its own bucket", rec.Code, rec.Body)
		}
		// What the client wrote left of the proxy's entry does not count; nor do trusted hops.
		assertLimited(t, sendFrom(env, apitest.Anonymous, "10.1.2.3:5000", xff("203.0.113.50, 198.51.100.1"), q, nil), apitest.Start.Add(4*time.Second))
		assertLimited(t, sendFrom(env, apitest.Anonymous, "10.1.2.3:5000", xff("198.51.100.1, 192.168.1.1, 10.9.9.9"), q, nil), apitest.Start.Add(4*time.Second))
		// An untrusted peer cannot pick its bucket with the header: every request shares the peer's.
		for i := 0; i < 2; i++ {
			if rec := sendFrom(env, apitest.Anonymous, "203.0.113.7:6000", xff(fmt.Sprintf("198.51.100.%d", 10+i)), q, nil); rec.Code != 200 {
				t.Fatalf("untrusted peer request %d: got %d", i+1, rec.Code)
			}
		}
		assertLimited(t, sendFrom(env, apitest.Anonymous, "203.0.113.7:6001", xff("198.51.100.99"), q, nil), apitest.Start.Add(4*time.Second))
	})
	t.Run("Forwarded", func(t *testing.T) {
		env := apitest.New(t, apitest.WithEnv(map[string]string{
			"RATE_LIMIT_ANON_RPS": "0.25", "RATE_LIMIT_ANON_BURST": "1",
			"TRUSTED_PROXIES": "10.0.0.0/8", "CLIENT_IP_HEADER": "Forwarded",
		}))
		fwd := func(v string) http.Header { return http.Header{"Forwarded": {v}} }
		if rec := sendFrom(env, apitest.Anonymous, "10.0.0.2:1", fwd(`for=198.51.100.1;proto=https`), q, nil); rec.Code != 200 {
			t.Fatalf("client 1: got %d", rec.Code)
		}
		assertLimited(t, sendFrom(env, apitest.Anonymous, "10.0.0.2:1", fwd(`for=198.51.100.1`), q, nil), apitest.Start.Add(4*time.Second))
		if rec := sendFrom(env, apitest.Anonymous, "10.0.0.2:1", fwd(`for="[2001:db8::7]:4711"`), q, nil); rec.Code != 200 {
			t.Fatalf("client 2 (IPv6): got %d %s", rec.Code, rec.Body)
		}
		// With CLIENT_IP_HEADER=Forwarded, an X-Forwarded-For the client added is not read.
		assertLimited(t, sendFrom(env, apitest.Anonymous, "10.0.0.2:1", http.Header{
			"Forwarded": {`for=198.51.100.1`}, "X-Forwarded-For": {"198.51.100.77"}}, q, nil), apitest.Start.Add(4*time.Second))
	})
}

// Failed authentications count per client address: a burst of bad or expired tokens from one
// address ends in RATE_LIMITED (even before the token is read), and another address is not
// affected. Addresses behind a trusted proxy are told apart.
func TestFailedAuthenticationsAreLimitedPerAddress(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{
		"RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "6", "RATE_LIMIT_AUTH_FAILURES_BURST": "3", "TRUSTED_PROXIES": "10.0.0.0/8",
	}))
	const q = `{ __typename }`
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	forwarded := func(ip, tok string) http.Header {
		h := bearer(tok)
		h.Set("X-Forwarded-For", ip)
		return h
	}
	good := env.Token(apitest.Learner("honest"))
	expired := env.Token(apitest.Learner("late"))
	env.Clock.Advance(48 * time.Hour) // apitest tokens live 24h
	good = env.Token(apitest.Learner("honest"))
	bad := []string{"not-a-jwt", good + "x", expired}
	for i, tok := range bad {
		rec := sendFrom(env, apitest.Anonymous, "10.0.0.5:1", forwarded("198.51.100.1", tok), q, nil)
		if rec.Code != http.StatusUnauthorized || firstCode(t, rec) != "UNAUTHENTICATED" {
			t.Fatalf("bad token %d: got %d %s, want 401", i+1, rec.Code, rec.Body)
		}
	}
	now := env.Clock.Now()
	limited := func(rec *httptest.ResponseRecorder) {
		t.Helper()
		var r rateLimited
		_ = json.Unmarshal(rec.Body.Bytes(), &r)
		if rec.Code != http.StatusTooManyRequests || len(r.Errors) == 0 || r.Errors[0].Code() != "RATE_LIMITED" ||
			r.Errors[0].Extensions["retryAt"] != now.Add(10*time.Second).Format(time.RFC3339) || rec.Header().Get("Retry-After") != "10" {
			t.Fatalf("got %d %s (Retry-After %q), want 429 RATE_LIMITED for 10s", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
		}
	}
	limited(sendFrom(env, apitest.Anonymous, "10.0.0.5:1", forwarded("198.51.100.1", "still-guessing"), q, nil))
	// While the address is over its limit, even a good token from it waits.
	limited(sendFrom(env, apitest.Anonymous, "10.0.0.5:1", forwarded("198.51.100.1", good), q, nil))
	// Another client behind the same proxy is not affected, nor is a request without a token.
	if rec := sendFrom(env, apitest.Anonymous, "10.0.0.5:1", forwarded("198.51.100.2", "not-a-jwt"), q, nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("another address: got %d %s, want 401", rec.Code, rec.Body)
	}
	if rec := sendFrom(env, apitest.Anonymous, "10.0.0.5:1", forwarded("198.51.100.2", good), q, nil); rec.Code != http.StatusOK {
		t.Fatalf("another address with a good token: got %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := sendFrom(env, apitest.Anonymous, "10.0.0.5:1", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, q, nil); rec.Code != http.StatusOK {
		t.Fatalf("no token from the limited address: got %d %s, want 200", rec.Code, rec.Body)
	}
	// The bucket refills with the clock.
	env.Clock.Advance(10 * time.Second)
	if rec := sendFrom(env, apitest.Anonymous, "10.0.0.5:1", forwarded("198.51.100.1", good), q, nil); rec.Code != http.StatusOK {
		t.Fatalf("after 10s: got %d %s, want 200", rec.Code, rec.Body)
	}
	if got := metric(t, env, `recert_rate_limited_total{limit="auth_failures"}`); got != 2 {
		t.Errorf("got %v auth-failure refusals in /metrics, want 2", got)
	}
}

// /readyz answers from a ping once the schema has been seen migrated: repeated probes run no
// SQL statement (before, each probe ran goose's version queries).
func TestReadyzIsCheap(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "migrations")
	env := apitest.New(t, apitest.WithStatementCounting(), apitest.WithDeps(func(d *app.Deps) {
		d.Migrations = os.DirFS(dir)
	}))
	probe := func() int {
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	if got := probe(); got != http.StatusOK {
		t.Fatalf("first probe: got %d, want 200", got)
	}
	before := env.Statements()
	for i := 0; i < 5; i++ {
		if got := probe(); got != http.StatusOK {
			t.Fatalf("probe %d: got %d, want 200", i+2, got)
		}
	}
	// Each probe asks whether the database takes writes (issue 15): one statement that reads
	// no table, and no migration check once the schema was up to date.
	if n := env.Statements() - before; n != 5 {
		t.Fatalf("5 probes ran %d statements, want 5 (the read-only probe each)", n)
	}

	// Until the schema is up to date, every probe checks again and fails.
	files := fstest.MapFS{"9999_future.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = &fstest.MapFile{Data: b}
	}
	behind := apitest.New(t, apitest.WithDeps(func(d *app.Deps) { d.Migrations = files }))
	for i := 0; i < 2; i++ {
		rec := httptest.NewRecorder()
		behind.Server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("probe %d with a pending migration: got %d, want 503", i+1, rec.Code)
		}
	}
}
