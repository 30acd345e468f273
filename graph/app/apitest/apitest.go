// Package apitest drives the real HTTP handler (built by app.New, as server.go builds it)
// against a fresh test database, as any identity, with a settable clock. API tests in every package use it.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
	"github.com/recert/recert/internal/tracing"
)

// Secret, Issuer and Audience are the HS256 settings every test server uses.
const (
	Secret   = "apitest-secret-0123456789abcdef0123456789"
	Issuer   = "recert-test"
	Audience = "recert"
)

// Start is the instant test clocks start at unless a test sets another.
var Start = time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)

// Env is one test's server: its database, clock and handler.
type Env struct {
	T      testing.TB
	DB     *sqlx.DB
	Clock  *clock.Settable
	Server *app.API
	Config config.Config

	statements *pgtest.StatementCounter // nil unless WithStatementCounting
	deps       app.Deps                 // what Server was built from, for Instance
}

// Instance builds one more API instance on the env's database, clock and configuration, as a
// second server process behind the same load balancer would be: its own services, caches,
// rate limits and metrics, nothing shared in memory with Server.
func (e *Env) Instance() *app.API {
	e.T.Helper()
	d := e.deps
	d.Services = app.NewServices(d.Config, d.DB, d.Clock)
	d.Registry = nil
	srv, err := app.New(d)
	if err != nil {
		e.T.Fatalf("second instance: %v", err)
	}
	return srv
}

// Option changes how New builds the server.
type Option func(*options)

type options struct {
	countStatements bool
	env             map[string]string
	auth            func(*auth.Config)
	deps            func(*app.Deps)
	tracing         *tracing.Tracing
}

// WithStatementCounting makes the server's pool count its SQL statements (see Statements).
func WithStatementCounting() Option { return func(o *options) { o.countStatements = true } }

// WithEnv sets configuration variables, as the environment would (for example
// "APP_ENV": "production" or the RATE_LIMIT_* variables, which are off unless set here).
func WithEnv(env map[string]string) Option {
	return func(o *options) {
		for k, v := range env {
			o.env[k] = v
		}
	}
}

// WithAuth changes the verifier's configuration (for example to add a JWKS URL).
func WithAuth(f func(*auth.Config)) Option { return func(o *options) { o.auth = f } }

// WithTracing builds the server with tr as server.go does: its pool traces statements
// (tracing.Tracing.OpenDB), its logger writes trace ids, and requests and operations get spans.
// Env.DB stays untraced (statements outside a span make no span anyway).
func WithTracing(tr *tracing.Tracing) Option { return func(o *options) { o.tracing = tr } }

// WithDeps changes the API's dependencies before it is built (for example the logger).
func WithDeps(f func(*app.Deps)) Option { return func(o *options) { o.deps = f } }

// New starts a server on a fresh database with the clock at Start. Rate limits are off unless
// a test turns them on with WithEnv, since the test clock stands still.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	o := options{env: map[string]string{
		"AUTH_HS256_SECRET": Secret, "AUTH_ISSUER": Issuer, "AUTH_AUDIENCE": Audience,
		"RATE_LIMIT_RPS": "0", "RATE_LIMIT_ANON_RPS": "0", "RATE_LIMIT_SUPPORT_PER_MINUTE": "0",
		"RATE_LIMIT_SUPPORT_READS_PER_MINUTE": "0", "RATE_LIMIT_MERGES_PER_MINUTE": "0",
		"RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "0",
	}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.env["APP_ENV"] == "production" {
		// Production refuses AUTH_HS256_SECRET in its configuration; the test verifier below is
		// built from Secret regardless, since tests mint their tokens with it.
		delete(o.env, "AUTH_HS256_SECRET")
		if o.env["CREDENTIAL_SIGNING_KEY"] == "" {
			o.env["CREDENTIAL_SIGNING_KEY"] = credential.MustGenerateKeyPEM() // production needs one
		}
	}
	db, dsn := pgtest.NewWithDSN(t)
	var counter *pgtest.StatementCounter
	if o.countStatements {
		cdb, c, err := pgtest.OpenCounting(dsn)
		if err != nil {
			t.Fatalf("counting pool: %v", err)
		}
		t.Cleanup(func() { _ = cdb.Close() })
		db, counter = cdb, c
	}
	clk := clock.NewSettable(Start)
	cfg, err := config.Load(func(k string) (string, bool) {
		v, ok := o.env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ac := auth.Config{Issuer: Issuer, Audience: Audience, HS256Secret: []byte(Secret), RequiredTyp: cfg.Hardening.AuthRequiredTyp}
	if o.auth != nil {
		o.auth(&ac)
	}
	v, err := auth.NewVerifier(context.Background(), ac, clk)
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	t.Cleanup(v.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	serverDB := db
	if o.tracing != nil {
		tdb, err := postgres.OpenWith(context.Background(), dsn, postgres.DefaultPool, o.tracing.OpenDB)
		if err != nil {
			t.Fatalf("traced pool: %v", err)
		}
		t.Cleanup(func() { _ = tdb.Close() })
		serverDB, log = tdb, slog.New(o.tracing.LogHandler(log.Handler()))
	}
	deps := app.Deps{Config: cfg, DB: serverDB, Services: app.NewServices(cfg, serverDB, clk), Clock: clk, Verifier: v, Log: log,
		Tracing: o.tracing}
	if o.deps != nil {
		o.deps(&deps)
	}
	srv, err := app.New(deps)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	if o.countStatements {
		// Tests that count statements compare batches; a busy machine that schedules the field
		// goroutines slowly must not split one batch into two, so the loaders wait longer.
		srv.Resolver.LoaderWait = 50 * time.Millisecond
	}
	return &Env{T: t, DB: db, Clock: clk, Server: srv, Config: cfg, statements: counter, deps: deps}
}

// Statements returns how many SQL statements the server has run so far; the env must come
// from New with WithStatementCounting. Compare two readings around a request.
func (e *Env) Statements() int64 {
	e.T.Helper()
	if e.statements == nil {
		e.T.Fatal("apitest: Statements needs New(t, WithStatementCounting())")
	}
	return e.statements.Count()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Identity is who a request is made as.
type Identity struct {
	Subject  string
	Personal bool
	Roles    []string
	Email    string
	Name     string
	// TenantID is the `tid` of a work or school account; empty means auth.DevWorkTenantID.
	TenantID string
}

// Learner is a personal account identity with the given subject.
func Learner(sub string) Identity {
	return Identity{Subject: sub, Personal: true, Email: sub + "@example.com"}
}

// Work is a work-or-school account identity.
func Work(sub string) Identity { return Identity{Subject: sub, Email: sub + "@contoso.example"} }

// TeamManager is a work or school account of tenant with the team-manager role.
func TeamManager(sub, tenant string) Identity {
	return Identity{Subject: sub, Email: sub + "@contoso.example", TenantID: tenant, Roles: []string{auth.RoleTeamManager}}
}

// Support is a support agent.
func Support(sub string) Identity { return Identity{Subject: sub, Roles: []string{auth.RoleSupport}} }

// ExamDelivery is the exam delivery service.
func ExamDelivery() Identity {
	return Identity{Subject: "exam-delivery", Roles: []string{auth.RoleExamDelivery}}
}

// Admin is a catalog admin.
func Admin(sub string) Identity { return Identity{Subject: sub, Roles: []string{auth.RoleAdmin}} }

// Anonymous makes requests with no token.
var Anonymous = Identity{}

// Token mints a token for id, valid at the env's clock.
func (e *Env) Token(id Identity) string {
	e.T.Helper()
	tok, err := auth.MintDev([]byte(Secret), Issuer, Audience, e.Clock.Now(), auth.DevToken{
		Subject: id.Subject, Personal: id.Personal, TenantID: id.TenantID, Roles: id.Roles, Email: id.Email, Name: id.Name,
		TTL: 24 * time.Hour,
	})
	if err != nil {
		e.T.Fatalf("mint token: %v", err)
	}
	return tok
}

// Response is a decoded GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
	Raw    []byte
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Do runs a GraphQL operation as id and returns the raw response.
func (e *Env) Do(id Identity, query string, vars map[string]any) Response {
	e.T.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if id.Subject != "" {
		req.Header.Set("Authorization", "Bearer "+e.Token(id))
	}
	return e.Send(req)
}

// Send runs a prepared HTTP request through the handler and decodes the GraphQL response.
func (e *Env) Send(req *http.Request) Response {
	e.T.Helper()
	rec := httptest.NewRecorder()
	e.Server.Handler().ServeHTTP(rec, req)
	r := Response{Status: rec.Code, Raw: rec.Body.Bytes()}
	if err := json.Unmarshal(r.Raw, &r); err != nil {
		e.T.Fatalf("decode response (status %d): %v\n%s", rec.Code, err, r.Raw)
	}
	return r
}

// MustDo runs an operation that must succeed and decodes its data into out (if not nil).
func (e *Env) MustDo(id Identity, query string, vars map[string]any, out any) {
	e.T.Helper()
	r := e.Do(id, query, vars)
	if len(r.Errors) > 0 {
		e.T.Fatalf("got errors %s, want none", r.Raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			e.T.Fatalf("decode data: %v\n%s", err, r.Raw)
		}
	}
}

// MustFail runs an operation that must fail with code, and returns its first error.
func (e *Env) MustFail(id Identity, query string, vars map[string]any, code string) Error {
	e.T.Helper()
	r := e.Do(id, query, vars)
	if len(r.Errors) == 0 {
		e.T.Fatalf("got no error, want %s\n%s", code, r.Raw)
	}
	if got := r.Errors[0].Code(); got != code {
		e.T.Fatalf("got code %s, want %s\n%s", got, code, r.Raw)
	}
	return r.Errors[0]
}
