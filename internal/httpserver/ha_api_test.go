package httpserver_test

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/recert/recert/graph/app/apitest"
)

// Issue 15 point 1: a database that turns read-only (a primary demoted by a failover, or
// default_transaction_read_only set as failover tools do) answers writes with UNAVAILABLE, 503
// and Retry-After, never INTERNAL; /readyz fails while it lasts, and both recover when it ends.
func TestReadOnlyDatabaseIsUnavailable(t *testing.T) {
	env := apitest.New(t)
	learner := apitest.Learner("ro-learner")
	create := `mutation { createCertificationProfile(input: {legalName: "Ada", email: "ada@example.com"}) { certificationProfile { mcid } } }`
	ready := func() int {
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	env.MustDo(learner, `{ viewer { account { id } } }`, nil, nil) // the account exists before
	if got := ready(); got != http.StatusOK {
		t.Fatalf("readyz before: got %d", got)
	}
	var name string
	if err := env.DB.Get(&name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	setReadOnly := func(on bool) {
		t.Helper()
		conn, err := env.DB.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stmt := "ALTER DATABASE " + pq.QuoteIdentifier(name) + " RESET default_transaction_read_only"
		if on {
			stmt = "ALTER DATABASE " + pq.QuoteIdentifier(name) + " SET default_transaction_read_only = on"
		}
		if _, err := conn.ExecContext(context.Background(), "SET default_transaction_read_only = off; "+stmt); err != nil {
			t.Fatal(err)
		}
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // never reuse the session we changed
		_ = conn.Close()
		// New sessions read the database's settings; close the idle ones so the pool makes them.
		env.DB.SetMaxIdleConns(0)
		env.DB.SetMaxIdleConns(20)
	}
	setReadOnly(true)
	var dbg string
	_ = env.DB.Get(&dbg, `SHOW transaction_read_only`)
	t.Logf("transaction_read_only %s", dbg)
	rec := sendFrom(env, learner, "192.0.2.1:1", nil, create, nil)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		firstCode(t, rec) != "UNAVAILABLE" || strings.Contains(rec.Body.String(), "read-only transaction") {
		t.Fatalf("write on a read-only database: got %d Retry-After %q %s, want 503 UNAVAILABLE without SQL",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("readyz while read-only: got %d, want 503", got)
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM certification_profiles`); err != nil || n != 0 {
		t.Fatalf("got %d profiles (%v), want none", n, err)
	}
	setReadOnly(false)
	if got := ready(); got != http.StatusOK {
		t.Errorf("readyz after: got %d, want 200", got)
	}
	if rec := sendFrom(env, learner, "192.0.2.1:1", nil, create, nil); rec.Code != http.StatusOK || firstCode(t, rec) != "" {
		t.Fatalf("the same write once writable again: got %d %s", rec.Code, rec.Body)
	}
}

// Issue 15 point 2: rate limits are per instance (docs/operations.md "Several instances"):
// each instance has its own buckets, so a client spread over N instances gets N times the
// configured rate, which is why the limits are set to total/N. Every instance keys an
// anonymous client by the same address, the one the trusted proxy forwarded, whichever proxy
// it came through.
func TestRateLimitsArePerInstance(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{
		"RATE_LIMIT_ANON_RPS": "0.25", "RATE_LIMIT_ANON_BURST": "2", "TRUSTED_PROXIES": "10.0.0.0/8",
	}))
	a, b := env.Server.Handler(), env.Instance().Handler()
	from := func(h http.Handler, proxy string) int {
		body, _ := json.Marshal(map[string]any{"query": `{ __typename }`})
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		req.RemoteAddr = proxy
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for i, h := range []http.Handler{a, a, b, b} {
		proxy := []string{"10.0.0.1:1000", "10.0.0.2:1000"}[i%2] // two proxies, one client
		if got := from(h, proxy); got != http.StatusOK {
			t.Fatalf("request %d: got %d, want 200 (a burst of 2 on each instance)", i+1, got)
		}
	}
	for name, h := range map[string]http.Handler{"A": a, "B": b} {
		if got := from(h, "10.0.0.3:1000"); got != http.StatusTooManyRequests {
			t.Errorf("third request on instance %s: got %d, want 429", name, got)
		}
	}
	env.Clock.Advance(4 * time.Second)
	if got := from(b, "10.0.0.1:1000"); got != http.StatusOK {
		t.Errorf("after a token's refill on B: got %d, want 200", got)
	}
}
