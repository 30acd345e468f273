// Package httpserver builds the HTTP handler: routes, middleware (request id, body cap,
// authentication, dataloaders, recovery), /healthz, /readyz, /metrics and GraphiQL. The same
// constructor serves server.go and the API tests.
package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/recert/recert/graph"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/learner"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/transcript"
)

// Deps is what the handler needs from the outside world.
type Deps struct {
	Config     config.Config
	DB         *sqlx.DB
	Clock      clock.Clock
	Verifier   *auth.Verifier
	Log        *slog.Logger
	Migrations fs.FS // for /readyz
	Registry   *prometheus.Registry
}

// Server is the assembled application: its services and its HTTP handler.
type Server struct {
	Resolver *graph.Resolver
	Store    *postgres.Store
	handler  http.Handler
	deps     Deps
	metrics  *metrics
}

// maxBodyBytes caps a request body; larger ones get 413 without being read in full.
const maxBodyBytes = 1 << 20

// New assembles services, resolvers and routes.
func New(d Deps) (*Server, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	store := postgres.New(d.DB)
	res := &graph.Resolver{
		Clock:    d.Clock,
		Log:      d.Log,
		Learner:  learner.NewService(postgres.Learner{Store: store}, d.Clock),
		Catalog:  catalog.NewService(postgres.Catalog{Store: store}, d.Clock),
		Profiles: certprofile.NewService(postgres.Profiles{Store: store}, d.Clock),

		Transcripts: transcript.NewService(postgres.Transcript{Store: store}, d.Clock),

		Renewals: renewal.NewService(postgres.Renewal{Store: store}, d.Clock),

		Merge: merge.NewService(postgres.Merges{Store: store}, d.Clock),

		Notify: notify.NewService(postgres.Notifications{Store: store}, d.Clock),
	}
	s := &Server{Resolver: res, Store: store, deps: d, metrics: newMetrics(d.Registry)}

	gql := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: res}))
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if !d.Config.Production() {
		gql.Use(extension.Introspection{})
	}
	gql.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	gql.Use(extension.FixedComplexityLimit(5000))
	gql.AroundFields(graph.MarkInternal)
	gql.AroundResponses(s.metrics.observe)
	gql.SetErrorPresenter(graph.ErrorPresenter(d.Log, RequestID))
	gql.SetRecoverFunc(graph.Recover(d.Log))

	mux := http.NewServeMux()
	mux.Handle("/graphql", s.authenticate(s.withLoaders(gql)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	if !d.Config.Production() {
		mux.Handle("GET /{$}", playground.Handler("Recert", "/graphql"))
	}
	s.handler = s.recoverPanics(s.withRequestID(s.limitBody(mux)))
	return s, nil
}

// Registry returns the Prometheus registry /metrics serves, for other parts of the process
// (the reminder worker) to register their metrics on.
func (s *Server) Registry() *prometheus.Registry { return s.deps.Registry }

// Handler returns the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

type requestIDKey struct{}

// RequestID returns the id assigned to the current request ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx, cancel := context.WithTimeout(ctx, s.requestTimeout())
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) requestTimeout() time.Duration {
	if s.deps.Config.RequestTime > 0 {
		return s.deps.Config.RequestTime
	}
	return 15 * time.Second
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.Invalid("request body too large"), r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.deps.Log.ErrorContext(r.Context(), "panic in handler", "request_id", RequestID(r.Context()), "panic", p)
				writeError(w, http.StatusInternalServerError, apperr.E(apperr.Internal, "internal error"), r)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate verifies the bearer token, if any, and makes sure the account and its Learn
// profile exist. No token means anonymous; a bad token refuses the whole request with 401.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok, err := auth.BearerToken(r.Header)
		if err == nil && ok {
			var p *auth.Principal
			if p, err = s.deps.Verifier.Verify(r.Context(), raw); err == nil {
				if _, _, err = s.Resolver.Learner.Ensure(r.Context(), p); err == nil {
					r = r.WithContext(auth.WithPrincipal(r.Context(), p))
				}
			}
		}
		if err != nil {
			status := http.StatusUnauthorized
			if apperr.CodeOf(err) != apperr.Unauthenticated {
				status = http.StatusInternalServerError
				s.deps.Log.ErrorContext(r.Context(), "authenticate", "request_id", RequestID(r.Context()), "error", err)
				err = apperr.E(apperr.Internal, "internal error")
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
			writeError(w, status, err, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) withLoaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(graph.WithLoaders(r.Context(), s.Resolver.NewLoaders())))
	})
}

// writeError answers a request refused before GraphQL execution, in the GraphQL response
// shape so clients handle it like any other error.
func writeError(w http.ResponseWriter, status int, err error, r *http.Request) {
	code, msg := apperr.Internal, "internal error"
	if e, ok := err.(*apperr.Error); ok {
		code, msg = e.Code, e.Message
	}
	ext := map[string]any{"code": string(code)}
	if code == apperr.Internal {
		ext["requestId"] = RequestID(r.Context())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": ext}},
	})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	if s.deps.Migrations != nil {
		n, err := postgres.Pending(ctx, s.deps.DB.DB, s.deps.Migrations)
		if err != nil || n > 0 {
			http.Error(w, "database not migrated", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ready\n"))
}

type metrics struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_graphql_operations_total", Help: "GraphQL operations by outcome.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "recert_graphql_operation_seconds", Help: "GraphQL operation latency.",
			Buckets: prometheus.DefBuckets,
		}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *metrics) observe(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	m.duration.Observe(time.Since(start).Seconds())
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "error"
	}
	m.requests.WithLabelValues(outcome).Inc()
	return resp
}
