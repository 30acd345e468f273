// Command recert is the Recert GraphQL API server.
//
//	go run . [serve]              serve (embedded PostgreSQL when DATABASE_URL is unset)
//	go run . help [COMMAND]       usage of the program or of a command (or -h, --help)
//	go run . version              module version and VCS revision
//	go run . migrate [up|status]  apply or list database migrations
//	go run . token --sub SUB ...  print a development token
//	go run . reminders run-once   one renewal reminder scheduling and sending pass
//	go run . support ...          support tool: search, preview, merge, audit (see internal/supportcli)
//	go run . seed-bench [flags]   fill the database with benchmark data (internal/benchseed)
//
// This file is the composition root: every command lives in its own package (internal/database,
// internal/devtoken, internal/reminders, internal/supportcli, internal/benchseed) and is
// dispatched from run; serve builds the services, the API (app) and the workers.
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/cli"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/database"
	"github.com/recert/recert/internal/devtoken"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/reminders"
	"github.com/recert/recert/internal/safe"
	"github.com/recert/recert/internal/supportcli"
	"github.com/recert/recert/internal/tracing"
	"github.com/recert/recert/internal/webhook"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations is the migrations directory as the runner wants it (files at the root).
func migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

const usage = `usage: recert [command] [arguments]

The Recert GraphQL API server, and the commands that operate it.

commands:
  serve        serve the API (the default; embedded PostgreSQL when DATABASE_URL is unset)
  migrate      apply the database migrations (migrate up), or list them (migrate status)
  token        print a development token
  reminders    one renewal reminder pass (reminders run-once)
  support      the support tool: search, preview, merge, audit; talks to a server over HTTP
  seed-bench   fill the database with benchmark data
  version      print the module version and VCS revision
  help         print this help, or a command's (help COMMAND)

Every command takes -h or --help. The server's configuration comes from environment
variables (docs/operations.md); help, version and support read none of it.
`

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil && !cli.Helped(err) {
		fmt.Fprintln(os.Stderr, "recert:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" && len(args) > 0 {
		cmd, args = args[0], []string{"--help"}
	}
	// The server configuration is read only by the commands that need it, once their
	// arguments have parsed.
	load := func() (database.Env, error) {
		cfg, err := config.Load(os.LookupEnv)
		if err != nil {
			return database.Env{}, err
		}
		log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
		return database.Env{Config: cfg, Log: log, Migrations: migrations()}, nil
	}
	stdout, stderr := os.Stdout, os.Stderr
	switch cmd {
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	case "version", "--version":
		return cli.Version(stdout)
	case "serve":
		return serve(ctx, args, load)
	case "migrate":
		return database.MigrateCommand(ctx, args, stdout, stderr, load)
	case "token":
		return devtoken.Command(args, stdout, stderr, load)
	case "reminders":
		return reminders.Command(ctx, args, stdout, stderr, load)
	case "support":
		return supportcli.Run(ctx, args, supportcli.Std())
	case "seed-bench":
		return benchseed.Command(ctx, args, stdout, stderr, load)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q (recert help lists them)", cmd)
	}
}

// serve is the composition root: it builds the database, the domain services on their postgres
// adapters, the GraphQL handler and the HTTP server (app), and the workers, hands each what it
// uses, and serves until SIGINT or SIGTERM.
func serve(ctx context.Context, args []string, load database.LoadEnv) error {
	fs := cli.FlagSet("serve", "", `Serves the GraphQL API (GraphiQL at / outside production) until SIGINT or SIGTERM. The
configuration comes from environment variables (docs/operations.md).`)
	if _, err := cli.ParseCommand(fs, args, 0, os.Stdout, os.Stderr); err != nil {
		return err
	}
	env, err := load()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Tracing (OTEL_* variables; off without an OTLP endpoint): spans of requests, GraphQL
	// operations, SQL statements and reminder passes, and trace ids in the log lines.
	tr, err := tracing.Setup(ctx, os.LookupEnv, env.Log)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		// Flush the spans not yet exported, within a bound of its own (ctx is done by now).
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			env.Log.Warn("tracing: flush at shutdown", "error", err)
		}
	}()
	env.Log, env.Tracing = slog.New(tr.LogHandler(env.Log.Handler())), tr
	cfg, log, open := env.Config, env.Log, env.Open()
	if tr.Enabled() {
		log.Info("tracing on (OTLP/HTTP)")
	}
	tuneGC()
	generated, err := cfg.EnsureDevSecret()
	if err != nil {
		return err
	}
	if err := cfg.EnsureCredentialKey(); err != nil {
		return err
	}
	clk := clock.Real{}
	db, closeDB, err := open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	verifier, err := auth.NewVerifier(ctx, auth.Config{
		Issuer: cfg.Issuer, Audience: cfg.Audience, HS256Secret: cfg.HS256Secret, JWKSURL: cfg.JWKSURL,
		RequiredTyp: cfg.Hardening.AuthRequiredTyp,
	}, clk)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer verifier.Close()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	services := app.NewServices(cfg, db, clk)
	replica, err := database.OpenReplica(ctx, cfg)
	if err != nil {
		return err
	}
	if replica != nil {
		defer replica.Close()
		services = services.UseReplica(replica)
		log.Info("read replica in use for the catalog and public transcripts")
	}
	api, err := app.New(app.Deps{
		Config: cfg, DB: db, Replica: replica, Services: services, Clock: clk, Verifier: verifier, Log: log,
		Migrations: migrations(), Registry: registry, Tracing: tr,
	})
	if err != nil {
		return err
	}
	outbox, err := reminders.Worker(cfg, log, services.Store, clk, registry, tr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	if cfg.AdminAddr != "" {
		// /metrics and pprof on their own loopback listener, never on the API's (config
		// refuses other hosts).
		aln, err := net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			return fmt.Errorf("ADMIN_LISTEN_ADDR: %w", err)
		}
		admin := &http.Server{Handler: api.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = admin.Serve(aln) }()
		defer admin.Close()
		log.Info("admin listener (metrics, pprof)", "metrics", "http://"+cfg.AdminAddr+"/metrics",
			"pprof", "http://"+cfg.AdminAddr+"/debug/pprof/")
	}
	go purgeMergeKeys(ctx, services.Merge, log)
	log.Info("recert listening", "addr", "http://"+cfg.ListenAddr, "env", cfg.Env)
	stopReminders := reminders.Start(ctx, cfg, log, outbox)
	defer stopReminders()
	stopWebhooks, err := startWebhooks(ctx, cfg, log, services.Store, clk)
	if err != nil {
		return err
	}
	defer stopWebhooks()
	if !cfg.Production() {
		devtoken.Banner(os.Stderr, cfg, generated)
	}
	// On SIGTERM: /readyz fails, then in-flight requests drain (SHUTDOWN_DRAIN_DELAY, SHUTDOWN_TIMEOUT).
	return api.Serve(ctx, hs, ln, cfg.Hardening.ShutdownDrainDelay, cfg.Hardening.ShutdownGracePeriod)
}

// startWebhooks runs the webhook sender in the background (internal/webhook: the expiry pass
// and the deliveries, first pass right away, then every WEBHOOK_INTERVAL) and returns the
// function that stops it and waits for the pass in flight. WEBHOOK_INTERVAL=0 starts nothing.
func startWebhooks(ctx context.Context, cfg config.Config, log *slog.Logger, store *postgres.Store, clk clock.Clock) (stop func(), err error) {
	if cfg.WebhookInterval == 0 {
		log.Info("webhook sender off (WEBHOOK_INTERVAL=0)")
		return func() {}, nil
	}
	sender, err := webhook.NewSender(postgres.Webhook{Store: store}, clk, webhook.SenderConfig{
		Client: webhook.NewClient(cfg.Production()), Log: log.With("component", "webhooks"),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	safe.Go(log, "webhook sender", func() {
		defer close(done)
		safe.Loop(ctx, log, "webhook pass", cfg.WebhookInterval, func() bool { return sender.Pass(ctx) })
	})
	return func() {
		cancel()
		<-done
	}, nil
}

// purgeMergeKeys deletes the idempotency keys past their retention (the merge's and every other
// keyed mutation's, package idem) at start and then hourly, until ctx ends.
func purgeMergeKeys(ctx context.Context, m *merge.Service, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := m.PurgeExpiredKeys(ctx); err != nil && ctx.Err() == nil {
			log.Error("purge merge idempotency keys", "error", err)
		} else if n > 0 {
			log.Info("purged expired merge idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tuneGC trades memory the server does not use for less garbage-collection CPU (issue 8: GC
// was about a tenth of the CPU under load with the default GOGC=100 on a ~10 MB live heap):
// collect at 4x the live heap, but collect harder as the heap nears 100 MiB, which keeps
// RSS well under 150 MB. GOGC and GOMEMLIMIT, when set, win.
func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(400)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(100 << 20)
	}
}
