// Package app is the wiring list of the Recert API, shared by server.go and the API tests so
// that both build the same thing: the domain services on their postgres adapters
// (NewServices), then the GraphQL handler and the HTTP server around them (New). server.go
// decides everything that goes in (configuration, database, clock, verifier, logger, metrics
// registry) and runs what comes out; nothing here reaches back into it.
package app

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/recert/recert/graph"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/devtoken"
	"github.com/recert/recert/internal/httpserver"
	"github.com/recert/recert/internal/learner"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/querylimits"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/team"
	"github.com/recert/recert/internal/tracing"
	"github.com/recert/recert/internal/transcript"
	"github.com/recert/recert/internal/webhook"
)

// Services are the domain services, each on its postgres adapter, and the store they share
// (the background workers use it too).
type Services struct {
	Store *postgres.Store
	graph.Services
}

// NewServices builds the domain services on db, with the caps cfg sets.
func NewServices(cfg config.Config, db *sqlx.DB, clk clock.Clock) Services {
	store := postgres.New(db)
	s := Services{Store: store, Services: graph.Services{
		Learner:     learner.NewService(postgres.Learner{Store: store}, clk),
		Catalog:     catalog.NewService(postgres.Catalog{Store: store}, clk),
		Profiles:    certprofile.NewService(postgres.CertProfile{Store: store}, clk),
		Transcripts: transcript.NewService(postgres.Transcript{Store: store}, clk),
		Renewals:    renewal.NewService(postgres.Renewal{Store: store}, clk),
		Merge:       merge.NewService(postgres.Merge{Store: store}, clk),
		Notify:      notify.NewService(postgres.Notify{Store: store}, clk),
		Webhooks:    webhook.NewService(postgres.Webhook{Store: store}, clk, cfg.Production()),
	}}
	s.Teams = team.NewService(postgres.Team{Store: store}, clk, s.Renewals.CurrentStatuses)
	keys := cfg.CredentialKeys
	if keys == nil {
		// Only a server that skipped config.EnsureCredentialKey (an API test) gets here: a key
		// that lives as long as the process.
		keys = credential.GeneratedKeys()
	}
	s.Credentials = credential.NewService(postgres.Credential{Store: store}, keys, clk, cfg.PublicURL)
	plan := cfg.ReminderOffsets
	if plan.Len() == 0 {
		plan = notify.DefaultPlan()
	}
	cal, err := calendar.NewService(postgres.Calendar{Store: store}, clk, cfg.PublicURL, plan.Dates)
	if err != nil {
		// config.Load checks PUBLIC_URL; a bad one here is a programming error.
		panic(fmt.Sprintf("calendar: %v", err))
	}
	s.Calendar = cal
	s.Profiles.MaxPerAccount = cfg.MaxProfilesPerAccount
	s.Profiles.ReminderLanguages = notify.TemplateLanguages()
	s.Transcripts.MaxLiveShares = cfg.MaxLiveSharesPerProfile
	return s
}

// UseReplica sends the reads that may lag a moment to replica (DATABASE_REPLICA_URL): the
// catalog (but catalog admins') and public transcripts. A caller's own data is always read
// from the primary.
func (s Services) UseReplica(replica *sqlx.DB) Services {
	rs := postgres.New(replica)
	s.Catalog.Replica = postgres.Catalog{Store: rs}
	s.Transcripts.PublicReads = postgres.Transcript{Store: rs}
	return s
}

// Deps is what New assembles the API from.
type Deps struct {
	Config config.Config
	DB     *sqlx.DB
	// Replica is the read replica the Services use (Services.UseReplica), if any: its lag is
	// exported as a metric.
	Replica  *sqlx.DB
	Services Services
	Clock    clock.Clock
	Verifier *auth.Verifier
	Log      *slog.Logger
	// Migrations, when set, must all be applied for /readyz to answer ready.
	Migrations fs.FS
	// Registry receives every metric; nil makes a new one with the Go and process collectors.
	Registry *prometheus.Registry
	// Tracing, when on, makes spans of HTTP requests and GraphQL operations (nil: off). The
	// SQL spans come from DB's pool (tracing.Tracing.OpenDB), the trace ids in logs from Log's
	// handler (tracing.Tracing.LogHandler).
	Tracing *tracing.Tracing
}

// API is the assembled API: the resolver the GraphQL handler runs on, and the HTTP server.
type API struct {
	*httpserver.Server
	// Resolver is the GraphQL layer's view of the services (tests swap a service or widen the
	// loaders' batching window through it).
	Resolver *graph.Resolver
	// Store is the postgres store of the services.
	Store *postgres.Store
}

// New builds the GraphQL handler (graph.NewHandler) on d.Services and the HTTP server
// (httpserver.New) that serves it, and registers the database and outbox metrics.
func New(d Deps) (*API, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	svc := d.Services
	res := &graph.Resolver{Services: svc.Services, Clock: d.Clock, Log: d.Log}
	limits := querylimits.DefaultLimits
	limits.MaxDepth = d.Config.Hardening.QueryMaxDepth
	limits.MaxCost = d.Config.Hardening.QueryMaxCost
	limits.ListBounds = querylimits.BoundsFor(svc.Profiles.MaxProfiles(), svc.Transcripts.MaxLive())
	var trusted *querylimits.TrustedDocuments
	if f := d.Config.Hardening.TrustedDocuments; f != "" {
		docs, err := querylimits.LoadTrustedDocuments(f)
		if err != nil {
			return nil, err
		}
		trusted = docs
		d.Log.Info("trusted documents mode", "documents", docs.Len())
	}
	edge := httpserver.NewEdge(d.Config, d.Clock, d.Registry)
	extensions := edge.Extensions()
	if span := d.Tracing.GraphQL(); span != nil {
		extensions = append([]graphql.HandlerExtension{span}, extensions...)
	}
	gql := graph.NewHandler(graph.HandlerConfig{
		Resolver:   res,
		Log:        d.Log,
		Production: d.Config.Production(),
		Limits:     limits,
		Trusted:    trusted,
		APQ: querylimits.NewSharedAPQ(postgres.PersistedQueries{Store: svc.Store, Max: d.Config.Hardening.APQMaxDocuments},
			d.Clock, d.Log, 1000),
		Transport:  edge.Transport(),
		Extensions: extensions,
		OnReject:   edge.Rejected,
		RequestID:  httpserver.RequestID,
	})
	d.Registry.MustRegister(collectors.NewDBStatsCollector(d.DB.DB, "recert"),
		notify.NewOutboxCollector(svc.Store.OutboxStats, d.Clock))
	if d.Replica != nil {
		d.Registry.MustRegister(collectors.NewDBStatsCollector(d.Replica.DB, "recert_replica"),
			postgres.NewReplicaLagCollector(d.Replica.DB))
	}
	var graphiQLToken func() (string, error)
	if !d.Config.Production() && len(d.Config.HS256Secret) > 0 {
		// GraphiQL (development only) starts with the development learner's token.
		graphiQLToken = func() (string, error) { return devtoken.Learner(d.Config, d.Clock.Now()) }
	}
	srv, err := httpserver.New(httpserver.Deps{
		Config:        d.Config,
		Clock:         d.Clock,
		Verifier:      d.Verifier,
		Log:           d.Log,
		Edge:          edge,
		GraphQL:       gql,
		Credentials:   svc.Credentials,
		Ready:         postgres.Readiness(d.DB.DB, d.Migrations),
		GraphiQLToken: graphiQLToken,
		TeamCSV: func(ctx context.Context, p *auth.Principal, days *int, begin func() io.Writer) error {
			return svc.Teams.WriteCSV(ctx, p, team.Filter{ExpiringWithinDays: days}, begin)
		},
		Tracing: d.Tracing,
		CalendarFeed: func(ctx context.Context, token string) ([]byte, string, error) {
			doc, err := svc.Calendar.Serve(ctx, token)
			return doc.Body, doc.ETag, err
		},
	})
	if err != nil {
		return nil, err
	}
	return &API{Server: srv, Resolver: res, Store: svc.Store}, nil
}
