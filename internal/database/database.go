// Package database opens the database every command of the program uses: DATABASE_URL, or the
// embedded PostgreSQL under DATA_DIR when it is unset, with the connection timeouts of the
// configuration; prepares it (migrations, shipped catalog); and is the `migrate` command.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/internal/catalog/seed"
	"github.com/recert/recert/internal/cli"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/pgserver"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/tracing"
)

// Opener opens the configured database, migrated and with the shipped catalog loaded; close
// releases it (and stops the embedded server).
type Opener func(ctx context.Context) (db *sqlx.DB, close func(), err error)

// Prepared returns the Opener of cfg's database, migrated with migrations, its statements
// traced by tr (nil: not traced).
func Prepared(cfg config.Config, log *slog.Logger, migrations fs.FS, tr *tracing.Tracing) Opener {
	return func(ctx context.Context) (*sqlx.DB, func(), error) {
		db, closeDB, err := Open(ctx, cfg, log, tr)
		if err != nil {
			return nil, nil, err
		}
		if err := Prepare(ctx, db, migrations, clock.Real{}); err != nil {
			closeDB()
			return nil, nil, err
		}
		return db, closeDB, nil
	}
}

// Open opens DATABASE_URL, or starts the embedded PostgreSQL under DATA_DIR when it is
// unset. The returned close function closes the pool and stops the embedded server. tr, when
// on, makes a span of every statement run inside a span (tracing.Tracing.OpenDB).
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, tr *tracing.Tracing) (*sqlx.DB, func(), error) {
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
	db, err := openPool(ctx, cfg, dsn, tr.OpenDB)
	if err != nil {
		stopPG()
		return nil, nil, err
	}
	return db, func() { _ = db.Close(); stopPG() }, nil
}

// openPool opens dsn with the configuration's timeouts on every connection (connect,
// statement, lock, idle in transaction) and its pool lifetimes.
func openPool(ctx context.Context, cfg config.Config, dsn string, openDB func(driver.Connector) *sql.DB) (*sqlx.DB, error) {
	dsn, err := postgres.WithParams(dsn, cfg.Hardening.DSNOptions())
	if err != nil {
		return nil, err
	}
	h := cfg.Hardening
	return postgres.OpenWith(ctx, dsn, postgres.Pool{MaxLifetime: h.DBConnMaxLifetime, MaxIdleTime: h.DBConnMaxIdleTime}, openDB)
}

// OpenReplica opens DATABASE_REPLICA_URL, the read replica, with the same timeouts and pool
// lifetimes as the primary; nil when it is unset. The replica is only read, never migrated.
func OpenReplica(ctx context.Context, cfg config.Config) (*sqlx.DB, error) {
	if cfg.ReplicaURL == "" {
		return nil, nil
	}
	db, err := openPool(ctx, cfg, cfg.ReplicaURL, sql.OpenDB)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_REPLICA_URL: %w", err)
	}
	return db, nil
}

// Prepare migrates the database and loads the shipped catalog (idempotent).
func Prepare(ctx context.Context, db *sqlx.DB, migrations fs.FS, clk clock.Clock) error {
	if err := postgres.Migrate(ctx, db.DB, migrations); err != nil {
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

// Env is what the commands that need the server configuration work with.
type Env struct {
	Config     config.Config
	Log        *slog.Logger
	Migrations fs.FS
	// Tracing, when on, traces the statements of the database Open opens (nil: off).
	Tracing *tracing.Tracing
}

// Open returns the Opener of the configured database, migrated.
func (e Env) Open() Opener { return Prepared(e.Config, e.Log, e.Migrations, e.Tracing) }

// LoadEnv reads the server configuration. Commands call it only once their arguments have
// parsed, so `--help` needs no configuration and starts no database.
type LoadEnv func() (Env, error)

// MigrateCommand is `recert migrate [up|status]`: apply the migrations (and load the shipped
// catalog), or list them with whether the database has each.
func MigrateCommand(ctx context.Context, args []string, stdout, stderr io.Writer, load LoadEnv) error {
	fs := cli.FlagSet("migrate", "[up|status]", `up (the default) applies the pending migrations and loads the shipped catalog; status lists
every migration with whether the database has it. The database is DATABASE_URL, or the
embedded PostgreSQL under DATA_DIR when it is unset.`)
	pos, err := cli.ParseCommand(fs, args, 1, stdout, stderr)
	if err != nil {
		return err
	}
	sub := "up"
	if len(pos) == 1 {
		sub = pos[0]
	}
	if sub != "up" && sub != "status" {
		return fmt.Errorf("migrate: unknown subcommand %q (want up or status)", sub)
	}
	env, err := load()
	if err != nil {
		return err
	}
	cfg, log, migrations := env.Config, env.Log, env.Migrations
	db, closeDB, err := Open(ctx, cfg, log, env.Tracing)
	if err != nil {
		return err
	}
	defer closeDB()
	if sub == "up" {
		return Prepare(ctx, db, migrations, clock.Real{})
	}
	states, err := postgres.MigrationStatus(ctx, db.DB, migrations)
	if err != nil {
		return err
	}
	for _, s := range states {
		applied := "pending"
		if s.Applied {
			applied = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%04d  %-40s %s\n", s.Version, s.Name, applied)
	}
	return nil
}
