package httpserver_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

// getFrom sends GET path from the given client address, without a token, as a page of another
// origin would.
func getFrom(env *apitest.Env, remote, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remote
	req.Header.Set("Origin", "https://verifier.example")
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	return rec
}

// The routes a credential verifier fetches take tokens of the anonymous limit of the client
// address, like the calendar feed: the request after the burst gets 429 RATE_LIMITED with
// Retry-After (and, for the status list, no database read) that any origin can read, another
// address is served, and the clock refills the bucket.
func TestCredentialRoutesAreRateLimitedPerAddress(t *testing.T) {
	routes := map[string]string{
		"/.well-known/jwks.json": "public, max-age=300",
		"/credentials/issuer":    "public, max-age=3600",
		"/credentials/status/0":  "public, max-age=60, must-revalidate",
	}
	for path, cache := range routes {
		t.Run(path, func(t *testing.T) {
			env := apitest.New(t, apitest.WithStatementCounting(), apitest.WithEnv(map[string]string{
				"RATE_LIMIT_ANON_RPS": "0.25", "RATE_LIMIT_ANON_BURST": "3",
			}))
			for i := 0; i < 3; i++ {
				rec := getFrom(env, "192.0.2.7:1000", path)
				if rec.Code != http.StatusOK {
					t.Fatalf("request %d: got %d %s, want 200", i+1, rec.Code, rec.Body)
				}
				if got := rec.Header().Get("Cache-Control"); got != cache || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("got Cache-Control %q and Access-Control-Allow-Origin %q, want %q and *", got, rec.Header().Get("Access-Control-Allow-Origin"), cache)
				}
			}
			before := env.Statements()
			// The 4th waits for one token at 0.25/s: 4 seconds.
			rec := getFrom(env, "192.0.2.7:2000", path)
			assertLimited(t, rec, apitest.Start.Add(4*time.Second))
			if rec.Header().Get("Access-Control-Allow-Origin") != "*" || rec.Header().Get("Access-Control-Expose-Headers") != "ETag, Retry-After, X-Request-Id" {
				t.Errorf("a page of any origin must read the 429 and its Retry-After: got headers %v", rec.Header())
			}
			if n := env.Statements() - before; n != 0 {
				t.Errorf("the refused request ran %d SQL statements, want 0", n)
			}
			if rec := getFrom(env, "192.0.2.8:1000", path); rec.Code != http.StatusOK {
				t.Fatalf("another address: got %d %s, want 200", rec.Code, rec.Body)
			}
			env.Clock.Advance(4 * time.Second)
			if rec := getFrom(env, "192.0.2.7:1000", path); rec.Code != http.StatusOK {
				t.Fatalf("after 4s: got %d %s, want 200", rec.Code, rec.Body)
			}
			if got := metric(t, env, `recert_rate_limited_total{limit="request"}`); got != 1 {
				t.Errorf("got %v rate-limited requests in /metrics, want 1", got)
			}
		})
	}
}
