package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrationState is one migration of the set and whether the database has it.
type MigrationState struct {
	// Version is the number the file name starts with.
	Version int64
	// Name is the file name, for example "0001_accounts.sql".
	Name string
	// Applied reports whether the database has recorded the migration.
	Applied bool
	// AppliedAt is when goose recorded it: the server's clock, as stored without a zone and
	// read as UTC. Zero when not applied.
	AppliedAt time.Time
}

// Migrate applies every pending migration in fsys, in version order, each in its own
// transaction. fsys holds goose SQL files named NNNN_name.sql at its root, each with a
// "-- +goose Up" section; Down sections are never run, migrations only go forward.
//
// A session-level advisory lock serializes migrating processes: when two servers start
// together, the second waits (polling every second, up to five minutes) and then finds
// nothing left to apply. Migrate fails if fsys holds no migrations, if a migration older
// than the newest applied one was never applied, or if a migration fails; migrations before
// the failing one stay applied.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	p, err := newMigrationProvider(db, fsys)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigrationStatus lists every migration in fsys, in version order, with whether and when it
// was applied. It waits for a migration in progress to finish.
func MigrationStatus(ctx context.Context, db *sql.DB, fsys fs.FS) ([]MigrationState, error) {
	p, err := newMigrationProvider(db, fsys)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, s := range st {
		m := MigrationState{
			Version: s.Source.Version,
			Name:    path.Base(s.Source.Path),
			Applied: s.State == goose.StateApplied,
		}
		if m.Applied {
			m.AppliedAt = s.AppliedAt.UTC()
		}
		out = append(out, m)
	}
	return out, nil
}

// readOnlyQuery asks whether the connection can write: not a standby, and not read-only by
// default (ALTER DATABASE/SYSTEM ... default_transaction_read_only, as some failover tools do).
const readOnlyQuery = `SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'`

// Readiness returns the readiness check of /readyz: the database answers, can take writes (not
// a standby, not read-only) and no migration of fsys is pending (fsys nil: no migration
// check). Migrations are applied at start and never undone, so once the schema has been seen
// up to date only the read-only probe remains: one round trip that reads no table.
func Readiness(db *sql.DB, fsys fs.FS) func(context.Context) error {
	var migrated atomic.Bool
	return func(ctx context.Context) error {
		var readOnly bool
		if err := db.QueryRowContext(ctx, readOnlyQuery).Scan(&readOnly); err != nil {
			return errors.New("database unreachable")
		}
		if readOnly {
			// A standby, or a primary demoted by a failover: writes would fail with 25006.
			return errors.New("database read-only")
		}
		if fsys != nil && !migrated.Load() {
			if n, err := Pending(ctx, db, fsys); err != nil || n > 0 {
				return errors.New("database not migrated")
			}
			migrated.Store(true)
		}
		return nil
	}
}

// Pending returns how many migrations in fsys the database lacks, for /readyz. It takes no
// lock, so it answers at once while another process migrates. It fails like Migrate when a
// migration older than the newest applied one is missing.
func Pending(ctx context.Context, db *sql.DB, fsys fs.FS) (int, error) {
	p, err := newMigrationProvider(db, fsys)
	if err != nil {
		return 0, err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return 0, fmt.Errorf("pending migrations: %w", err)
	}
	if !pending {
		return 0, nil
	}
	// Out-of-order migrations are refused (HasPending would have failed), so what is pending
	// is exactly what lies above the newest applied version.
	current, _, err := p.GetVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("pending migrations: %w", err)
	}
	n := 0
	for _, s := range p.ListSources() {
		if s.Version > current {
			n++
		}
	}
	return n, nil
}

// newMigrationProvider builds a goose provider for fsys. The locker keeps retry state, so each
// call gets a new one.
func newMigrationProvider(db *sql.DB, fsys fs.FS) (*goose.Provider, error) {
	if fsys == nil {
		return nil, errors.New("migrations: fsys is nil")
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true), // SQL files only, no Go migrations
	)
	if errors.Is(err, goose.ErrNoMigrations) {
		// embed.FS keeps the directory: //go:embed migrations/*.sql needs fs.Sub(f, "migrations").
		if fi, statErr := fs.Stat(fsys, "migrations"); statErr == nil && fi.IsDir() {
			return nil, fmt.Errorf("migrations: none at the root of fsys, but it has a migrations directory; pass fs.Sub(fsys, \"migrations\"): %w", err)
		}
		return nil, fmt.Errorf("migrations: no NNNN_name.sql files at the root of fsys: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}
