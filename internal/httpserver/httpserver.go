// Package httpserver is the HTTP side of the API: routes, middleware (request id and deadline,
// access log, body cap, authentication, rate limits, recovery), /healthz, /readyz and
// GraphiQL; /metrics and pprof are on the admin handler. It serves the GraphQL handler it is
// given (graph.NewHandler, built by app.New) and knows nothing of the domain: server.go builds
// the services and hands this package only what it uses.
package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/tracing"
)

// Deps is what the HTTP server is given.
type Deps struct {
	Config   config.Config
	Clock    clock.Clock
	Verifier *auth.Verifier
	Log      *slog.Logger
	// Edge holds the metrics and rate limits this server shares with the GraphQL handler.
	Edge *Edge
	// GraphQL is served at /graphql once the request has passed the HTTP checks,
	// authentication and the general rate limit.
	GraphQL http.Handler
	// Credentials, when set, serves the credential keys (/.well-known/jwks.json), the issuer
	// profile and the status lists (credentials.go), without authentication, under the anonymous
	// rate limit.
	Credentials *credential.Service
	// GraphiQLToken, when set, mints the token GraphiQL (served at / outside production)
	// starts with in its Authorization header, for each page load.
	GraphiQLToken func() (string, error)
	// TeamCSV, when set, serves GET /team/members.csv (authenticated and rate-limited like
	// /graphql).
	TeamCSV TeamCSV
	// CalendarFeed, when set, renders the calendar feed behind a secret token (its body and a
	// quoted ETag; an apperr NOT_FOUND for an unknown or revoked token). It is served at
	// GET /calendar/{token}.ics without authentication, under the anonymous rate limit.
	CalendarFeed func(ctx context.Context, token string) (body []byte, etag string, err error)
	// Ready is the readiness check of /readyz (database reachable and migrated); nil means
	// ready whenever the server is not draining.
	Ready func(context.Context) error
	// Tracing, when on, puts every request but the health checks in a server span that
	// continues an incoming traceparent (nil: off).
	Tracing *tracing.Tracing
}

// Server is the HTTP handler of the API and its lifecycle (drain, graceful shutdown).
type Server struct {
	handler   http.Handler
	deps      Deps
	metrics   *metrics
	limits    rateLimits
	clientIPs clientIPs
	draining  atomic.Bool
}

// New builds the routes around d.GraphQL.
func New(d Deps) (*Server, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Edge == nil {
		d.Edge = NewEdge(d.Config, d.Clock, nil)
	}
	s := &Server{deps: d}
	return s, s.routes()
}

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
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(attribute.String("recert.request_id", id))
		}
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

// ready answers /readyz: 503 while draining or when the readiness check (database reachable,
// no pending migration) fails.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	if s.deps.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.deps.Ready(ctx); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ready\n"))
}
