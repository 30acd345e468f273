package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// TestMain serves every test of package postgres_test: database tests need pgtest.Main.
func TestMain(m *testing.M) { pgtest.Main(m) }

func migrations(extra fstest.MapFS) fstest.MapFS {
	fsys := fstest.MapFS{
		"0001_widgets.sql": {Data: []byte(`-- Widgets exist to test the migration runner.
-- +goose Up
CREATE TABLE widgets (id int PRIMARY KEY);
SELECT pg_sleep(0.3); -- widens the window in which a second runner could interfere

-- +goose Down
DROP TABLE widgets;
`)},
		"0002_widget_names.sql": {Data: []byte(`-- +goose Up
ALTER TABLE widgets ADD COLUMN name text NOT NULL DEFAULT '';
`)},
		"README.md": {Data: []byte("not a migration")},
	}
	for k, v := range extra {
		fsys[k] = v
	}
	return fsys
}

func TestMigrateAppliesPendingOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqlxDB, _ := pgtest.NewEmpty(t)
	db := sqlxDB.DB
	fsys := migrations(nil)

	if n, err := postgres.Pending(ctx, db, fsys); err != nil || n != 2 {
		t.Fatalf("Pending before: got %d, %v, want 2", n, err)
	}
	before := time.Now().Add(-time.Minute)
	if err := postgres.Migrate(ctx, db, fsys); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := postgres.Migrate(ctx, db, fsys); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO widgets (id, name) VALUES (1, 'one')`); err != nil {
		t.Fatalf("use migrated table: %v", err)
	}
	if n, err := postgres.Pending(ctx, db, fsys); err != nil || n != 0 {
		t.Fatalf("Pending after: got %d, %v, want 0", n, err)
	}
	st, err := postgres.MigrationStatus(ctx, db, fsys)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(st) != 2 {
		t.Fatalf("MigrationStatus: got %d entries, want 2: %+v", len(st), st)
	}
	for i, want := range []string{"0001_widgets.sql", "0002_widget_names.sql"} {
		s := st[i]
		if s.Version != int64(i+1) || s.Name != want || !s.Applied || s.AppliedAt.Before(before) {
			t.Errorf("status[%d]: got %+v, want version %d %s applied after %v", i, s, i+1, want, before)
		}
	}

	// A new migration is pending, then applied.
	fsys = migrations(fstest.MapFS{"0003_gadgets.sql": {Data: []byte("-- +goose Up\nCREATE TABLE gadgets (id int);\n")}})
	if n, err := postgres.Pending(ctx, db, fsys); err != nil || n != 1 {
		t.Fatalf("Pending with a new file: got %d, %v, want 1", n, err)
	}
	st, err = postgres.MigrationStatus(ctx, db, fsys)
	if err != nil || len(st) != 3 || st[2].Applied || !st[2].AppliedAt.IsZero() {
		t.Fatalf("MigrationStatus with a new file: got %+v, %v, want 0003 pending", st, err)
	}
	if err := postgres.Migrate(ctx, db, fsys); err != nil {
		t.Fatalf("Migrate the new file: %v", err)
	}
}

// TestMigrateConcurrentRunnersApplyOnce starts two runners, as two servers starting at once
// would. Without the lock both would run 0001 and one would fail on CREATE TABLE.
func TestMigrateConcurrentRunnersApplyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first, dsn := pgtest.NewEmpty(t)
	second := openDB(t, dsn)
	fsys := migrations(nil)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, db := range []*sql.DB{first.DB, second} {
		wg.Go(func() { errs[i] = postgres.Migrate(ctx, db, fsys) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("runner %d: %v", i, err)
		}
	}
	var rows []int64
	if err := first.Select(&rows, `SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0] != 1 || rows[1] != 2 {
		t.Fatalf("recorded versions: got %v, want [1 2]", rows)
	}
}

func TestMigrateStopsAtFailingMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqlxDB, _ := pgtest.NewEmpty(t)
	fsys := migrations(fstest.MapFS{"0003_broken.sql": {Data: []byte("-- +goose Up\nCREATE TABLE broken (id nosuchtype);\n")}})

	if err := postgres.Migrate(ctx, sqlxDB.DB, fsys); err == nil {
		t.Fatal("Migrate with a broken migration: got nil error")
	}
	st, err := postgres.MigrationStatus(ctx, sqlxDB.DB, fsys)
	if err != nil {
		t.Fatal(err)
	}
	got := []bool{st[0].Applied, st[1].Applied, st[2].Applied}
	if got[0] != true || got[1] != true || got[2] != false {
		t.Fatalf("applied: got %v, want [true true false]", got)
	}
	if n, err := postgres.Pending(ctx, sqlxDB.DB, fsys); err != nil || n != 1 {
		t.Fatalf("Pending: got %d, %v, want 1", n, err)
	}
}

func TestMigrateRejectsMissingMigrations(t *testing.T) {
	t.Parallel()
	sqlxDB, _ := pgtest.NewEmpty(t)
	// What //go:embed migrations/*.sql gives without fs.Sub.
	embedded := fstest.MapFS{"migrations/0001_widgets.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	for name, fsys := range map[string]fs.FS{"empty": fstest.MapFS{}, "not at root": embedded} {
		err := postgres.Migrate(context.Background(), sqlxDB.DB, fsys)
		if !errors.Is(err, goose.ErrNoMigrations) {
			t.Errorf("%s: got %v, want goose.ErrNoMigrations", name, err)
		}
	}
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
