// Command recert is the Recert GraphQL API server.
//
//	go run .                      serve (embedded PostgreSQL when DATABASE_URL is unset)
//	go run . migrate [up|status]  apply or list database migrations
//	go run . token --sub SUB ...  print a development token
//	go run . reminders run-once   one renewal reminder scheduling and sending pass
//	go run . support ...          support tool: search, preview, merge, audit (see internal/supportcli)
//	go run . seed-bench [flags]   fill the database with benchmark data (internal/benchseed)
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog/seed"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/httpserver"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/pgserver"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/supportcli"
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

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "recert:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "", "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return migrateCmd(ctx, cfg, log, args)
	case "token":
		return tokenCmd(cfg, args)
	case "reminders":
		return remindersCmd(ctx, cfg, log, args)
	case "support":
		return supportcli.Run(ctx, args, supportcli.Std())
	case "seed-bench":
		return seedBenchCmd(ctx, cfg, log, args)
	default:
		return fmt.Errorf("unknown command %q (want serve, migrate, token, reminders, support or seed-bench)", cmd)
	}
}

// database opens DATABASE_URL, or starts the embedded PostgreSQL under DATA_DIR when it is
// unset. The returned stop function closes the pool and stops the embedded server.
func database(ctx context.Context, cfg config.Config, log *slog.Logger) (*sqlx.DB, func(), error) {
	dsn := cfg.DatabaseURL
	stopPG := func() {}
	if dsn == "" {
		start := time.Now()
		pg, err := pgserver.Start(ctx, pgserver.Options{
			DataDir: filepath.Join(cfg.DataDir, "postgres"), BinDir: cfg.PGBin, Logger: log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		stopPG = func() {
			if err := pg.Stop(); err != nil {
				log.Error("stop embedded PostgreSQL", "error", err)
			}
		}
		if err := pg.EnsureDatabase(ctx, "recert"); err != nil {
			stopPG()
			return nil, nil, err
		}
		dsn = pg.DSN("recert")
		log.Info("embedded PostgreSQL ready", "data_dir", cfg.DataDir, "took", time.Since(start).String())
	}
	// Every connection gets connect, statement, lock and idle-in-transaction timeouts.
	dsn, err := postgres.WithParams(dsn, cfg.Hardening.DSNOptions())
	if err != nil {
		stopPG()
		return nil, nil, err
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		stopPG()
		return nil, nil, err
	}
	return db, func() { _ = db.Close(); stopPG() }, nil
}

// prepare migrates the database and loads the shipped catalog (idempotent).
func prepare(ctx context.Context, db *sqlx.DB, clk clock.Clock) error {
	if err := postgres.Migrate(ctx, db.DB, migrations()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	cat, err := seed.Load()
	if err != nil {
		return fmt.Errorf("shipped catalog: %w", err)
	}
	if err := postgres.New(db).LoadCatalog(ctx, cat, clk.Now()); err != nil {
		return fmt.Errorf("load catalog: %w", err)
	}
	return nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneGC()
	generated, err := cfg.EnsureDevSecret()
	if err != nil {
		return err
	}
	clk := clock.Real{}
	db, closeDB, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := prepare(ctx, db, clk); err != nil {
		return err
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{
		Issuer: cfg.Issuer, Audience: cfg.Audience, HS256Secret: cfg.HS256Secret, JWKSURL: cfg.JWKSURL,
		RequiredTyp: cfg.Hardening.AuthRequiredTyp,
	}, clk)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer verifier.Close()
	srv, err := httpserver.New(httpserver.Deps{
		Config: cfg, DB: db, Clock: clk, Verifier: verifier, Log: log, Migrations: migrations(),
	})
	if err != nil {
		return err
	}
	outbox, err := reminderWorker(cfg, log, srv.Store, clk, srv.Registry())
	if err != nil {
		return err
	}
	hs := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           srv.Handler(),
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
		admin := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = admin.Serve(aln) }()
		defer admin.Close()
		log.Info("admin listener (metrics, pprof)", "metrics", "http://"+cfg.AdminAddr+"/metrics",
			"pprof", "http://"+cfg.AdminAddr+"/debug/pprof/")
	}
	go purgeMergeKeys(ctx, srv.Resolver.Merge, log)
	log.Info("recert listening", "addr", "http://"+cfg.ListenAddr, "env", cfg.Env)
	stopReminders := startReminders(ctx, cfg, log, outbox)
	defer stopReminders()
	if !cfg.Production() {
		printDevTokens(cfg, generated)
	}
	// On SIGTERM: /readyz fails, then in-flight requests drain (SHUTDOWN_DRAIN_DELAY, SHUTDOWN_TIMEOUT).
	return srv.Serve(ctx, hs, ln, cfg.Hardening.ShutdownDrainDelay, cfg.Hardening.ShutdownGracePeriod)
}

// purgeMergeKeys deletes the merge idempotency keys past their retention (merge.KeyRetention)
// at start and then hourly, until ctx ends.
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

func printDevTokens(cfg config.Config, generated bool) {
	now := time.Now()
	learnerTok, err1 := auth.MintDev(cfg.HS256Secret, cfg.Issuer, cfg.Audience, now,
		auth.DevToken{Subject: "dev-learner", Personal: true, Email: "learner@example.com", Name: "Dev Learner", TTL: 24 * time.Hour})
	supportTok, err2 := auth.MintDev(cfg.HS256Secret, cfg.Issuer, cfg.Audience, now,
		auth.DevToken{Subject: "dev-support", Roles: []string{auth.RoleSupport}, Name: "Dev Support", TTL: 24 * time.Hour})
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(os.Stderr, "could not mint development tokens:", err)
		return
	}
	where := "AUTH_HS256_SECRET"
	if generated {
		where = filepath.Join(cfg.DataDir, "dev-hs256-secret")
	}
	fmt.Fprintf(os.Stderr, "\nGraphiQL: http://%s/   (development tokens, signed with %s, valid 24h)\n", cfg.ListenAddr, where)
	fmt.Fprintf(os.Stderr, "  learner: Authorization: Bearer %s\n", learnerTok)
	fmt.Fprintf(os.Stderr, "  support: Authorization: Bearer %s\n\n", supportTok)
}

func migrateCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	db, closeDB, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	switch sub {
	case "up":
		return prepare(ctx, db, clock.Real{})
	case "status":
		states, err := postgres.MigrationStatus(ctx, db.DB, migrations())
		if err != nil {
			return err
		}
		for _, s := range states {
			applied := "pending"
			if s.Applied {
				applied = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Printf("%04d  %-40s %s\n", s.Version, s.Name, applied)
		}
		return nil
	default:
		return fmt.Errorf("migrate: unknown subcommand %q (want up or status)", sub)
	}
}

func tokenCmd(cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "subject (required)")
	personal := fs.Bool("personal", true, "personal Microsoft account (tid = consumer tenant)")
	work := fs.Bool("work", false, "work or school account")
	roles := fs.String("roles", "", "comma-separated roles: support, exam-delivery, admin")
	email := fs.String("email", "", "email claim")
	name := fs.String("name", "", "name claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("token: --sub is required")
	}
	if _, err := cfg.EnsureDevSecret(); err != nil {
		return err
	}
	if len(cfg.HS256Secret) == 0 {
		return errors.New("token: no HS256 secret configured (set AUTH_HS256_SECRET)")
	}
	var rs []string
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, r)
		}
	}
	tok, err := auth.MintDev(cfg.HS256Secret, cfg.Issuer, cfg.Audience, time.Now(), auth.DevToken{
		Subject: *sub, Personal: *personal && !*work, Roles: rs, Email: *email, Name: *name, TTL: *ttl,
	})
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
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
