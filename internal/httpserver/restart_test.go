package httpserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/pgserver"
)

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

type outcome struct {
	code       string // "" for success
	status     int
	retryAfter string
	body       string
	start      time.Time
	took       time.Duration
}

// TestPostgresRestartUnderLoad restarts the database while requests run. Requests during the
// outage fail quickly with UNAVAILABLE, HTTP 503 and Retry-After (never INTERNAL, never the
// driver's text, never hanging past the request deadline; issue 15), /readyz reports the
// outage, and the same server answers normally again once PostgreSQL is back, with no restart.
func TestPostgresRestartUnderLoad(t *testing.T) {
	ctx := context.Background()
	c := startDatabase(t, map[string]string{"REQUEST_TIMEOUT": "2s", "DB_CONNECT_TIMEOUT": "1s"})
	pg, clk := c.primary, c.clock
	db := c.open(t, pg.DSN("recert"))
	var statementTimeout string
	if err := db.Get(&statementTimeout, `SHOW statement_timeout`); err != nil || statementTimeout != "10s" {
		t.Fatalf("got statement_timeout %q (%v), want 10s from the connection parameters", statementTimeout, err)
	}
	h := c.api(t, db, nil, nil)
	query := func() outcome {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ certifications(first: 3) { totalCount nodes { code } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		var resp struct{ Errors []apitest.Error }
		_ = json.Unmarshal(rec.Body.Bytes(), &resp)
		o := outcome{start: start, took: time.Since(start), status: rec.Code,
			retryAfter: rec.Header().Get("Retry-After"), body: rec.Body.String()}
		if len(resp.Errors) > 0 {
			o.code = resp.Errors[0].Code()
		} else if !strings.Contains(rec.Body.String(), `"totalCount":23`) {
			o.code = "unexpected: " + rec.Body.String()
		}
		return o
	}
	ready := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}

	// Four clients run for the whole test (bounded by stop and by a hard cap of requests).
	var (
		mu       sync.Mutex
		outcomes []outcome
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 20000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				o := query()
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	// waitFor polls the clients' outcomes until cond holds: the test waits for events, not
	// for time to pass, so a busy machine only makes it slower.
	waitFor := func(what string, cond func(outcomes []outcome) bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			ok := cond(outcomes)
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	count := func(outcomes []outcome, after time.Time, code string) int {
		n := 0
		for _, o := range outcomes {
			if o.code == code && !o.start.Before(after) {
				n++
			}
		}
		return n
	}
	waitFor("successes before the outage", func(got []outcome) bool { return count(got, time.Time{}, "") >= 20 })
	if err := pg.Stop(); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
	stopped := time.Now()
	waitFor("failures during the outage", func(got []outcome) bool { return count(got, stopped, "UNAVAILABLE") >= 20 })
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("readyz during the outage: got %d, want 503", got)
	}
	down := query()
	// GET, and a signed-in caller (whose account is loaded before the resolvers run), too.
	get := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape("{ certifications(first: 1) { totalCount } }"), nil)
	signed := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { account { id } } }"}`))
	signed.Header.Set("Content-Type", "application/json")
	tok, err := auth.MintDev([]byte(apitest.Secret), apitest.Issuer, apitest.Audience, clk.Now(),
		auth.DevToken{Subject: "outage-learner", Personal: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	signed.Header.Set("Authorization", "Bearer "+tok)
	for name, req := range map[string]*http.Request{"GET": get, "signed-in POST": signed} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
			!strings.Contains(rec.Body.String(), `"code":"UNAVAILABLE"`) {
			t.Errorf("%s during the outage: HTTP %d, Retry-After %q, %s; want 503, UNAVAILABLE", name, rec.Code,
				rec.Header().Get("Retry-After"), rec.Body.String())
		}
	}
	pg, err = pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(c.dir, "p"), Fast: true})
	c.primary = pg // stopped at the end of the test
	if err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for query().code != "" {
		if time.Now().After(deadline) {
			t.Fatal("the server did not recover within a minute of PostgreSQL coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	recovered := time.Now()
	waitFor("requests after the recovery", func(got []outcome) bool {
		n := 0
		for _, o := range got {
			if !o.start.Before(recovered) {
				n++
			}
		}
		return n >= 20
	})
	close(stop)
	wg.Wait()

	if down.code != "UNAVAILABLE" || down.status != http.StatusServiceUnavailable || down.retryAfter != "2" {
		t.Errorf("request during the outage: got %q, HTTP %d, Retry-After %q, want UNAVAILABLE, 503, 2",
			down.code, down.status, down.retryAfter)
	}
	for _, leak := range []string{"pq:", "connect", "dial", "bad connection", "sql"} {
		if strings.Contains(down.body, leak) {
			t.Errorf("the UNAVAILABLE answer quotes the driver (%q): %s", leak, down.body)
		}
	}
	if got := ready(); got != http.StatusOK {
		t.Errorf("readyz after recovery: got %d, want 200", got)
	}
	counts := map[string]int{}
	var slowest time.Duration
	for _, o := range outcomes {
		counts[o.code]++
		slowest = max(slowest, o.took)
	}
	t.Logf("%d requests: %v; slowest %v", len(outcomes), counts, slowest)
	for code := range counts {
		if code != "" && code != "UNAVAILABLE" {
			t.Errorf("got outcome %q, want only success or UNAVAILABLE", code)
		}
	}
	// The request deadline is 2s: a request that hung on the dead database would outlast it
	// by far; the margin covers a busy machine's scheduling, not a hang.
	if slowest > 6*time.Second {
		t.Errorf("slowest request took %v, want none far past the 2s request deadline", slowest)
	}
	// Every request that started once the server had recovered succeeded.
	for _, o := range outcomes {
		if !o.start.Before(recovered) && o.code != "" {
			t.Errorf("after recovery: got %q, want success", o.code)
		}
	}
}
