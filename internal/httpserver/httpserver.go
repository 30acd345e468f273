// Package httpserver builds the HTTP handler: routes, middleware (request id, body cap,
// authentication, dataloaders, recovery), /healthz, /readyz and GraphiQL; /metrics and pprof
// are on the admin handler. The same
// constructor serves server.go and the API tests.
package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

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
	Migrations fs.FS                // for /readyz
	Registry   *prometheus.Registry // served by AdminHandler at /metrics
}

// Server is the assembled application: its services and its HTTP handler.
type Server struct {
	Resolver  *graph.Resolver
	Store     *postgres.Store
	handler   http.Handler
	deps      Deps
	metrics   *metrics
	limits    rateLimits
	clientIPs clientIPs
	draining  atomic.Bool
	migrated  atomic.Bool // set once /readyz has seen no pending migration
}

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
	res.Profiles.MaxPerAccount = d.Config.MaxProfilesPerAccount
	res.Profiles.ReminderLanguages = notify.TemplateLanguages()
	res.Transcripts.MaxLiveShares = d.Config.MaxLiveSharesPerProfile
	s := &Server{Resolver: res, Store: store, deps: d}
	return s, s.routes()
}

// Registry returns the Prometheus registry the admin /metrics serves, for other parts of the process
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

func (s *Server) withLoaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(graph.WithLoaders(r.Context(), s.Resolver.NewLoaders())))
	})
}

// ready answers /readyz: 503 while draining, when the database does not answer a ping, or
// while migrations are pending. Migrations are applied at start and never undone, so once the
// schema has been seen up to date only the ping remains: a probe costs one round trip and
// reads no table.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	if s.deps.Migrations != nil && !s.migrated.Load() {
		n, err := postgres.Pending(ctx, s.deps.DB.DB, s.deps.Migrations)
		if err != nil || n > 0 {
			http.Error(w, "database not migrated", http.StatusServiceUnavailable)
			return
		}
		s.migrated.Store(true)
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ready\n"))
}
