package pgtest_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestParallelTestsGetSeparateDatabases runs two parallel tests that create the same table and
// each insert their own row. Sharing a database, one of them would fail to create the table
// or see the other's row.
func TestParallelTestsGetSeparateDatabases(t *testing.T) {
	var (
		mu    sync.Mutex
		names = map[string]string{}
		dsns  = map[string]string{}
	)
	t.Run("group", func(t *testing.T) {
		for _, marker := range []string{"a", "b"} {
			t.Run(marker, func(t *testing.T) {
				t.Parallel()
				began := time.Now()
				db, dsn := pgtest.NewWithDSN(t)
				t.Logf("New: %v", time.Since(began))

				var name string
				if err := db.Get(&name, `SELECT current_database()`); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names[marker], dsns[marker] = name, dsn
				mu.Unlock()

				if _, err := db.Exec(`CREATE TABLE marker (v text)`); err != nil {
					t.Fatalf("create table: %v", err)
				}
				if _, err := db.Exec(`INSERT INTO marker VALUES ($1)`, marker); err != nil {
					t.Fatalf("insert: %v", err)
				}
				var got []string
				if err := db.Select(&got, `SELECT v FROM marker`); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, []string{marker}) {
					t.Fatalf("rows: got %v, want [%s]", got, marker)
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	if names["a"] == names["b"] {
		t.Fatalf("both tests got database %s, want distinct ones", names["a"])
	}
	// The subtests and their cleanups have finished: their databases must be gone.
	for marker, dsn := range dsns {
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Ping()
		_ = db.Close()
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) || pqErr.Code != "3D000" { // invalid_catalog_name
			t.Errorf("connect to %s's database %s after cleanup: got %v, want it not to exist", marker, names[marker], err)
		}
	}
}

// TestNewAppliesRepositoryMigrations checks that New's database comes from the migrated
// template and NewEmpty's does not.
func TestNewAppliesRepositoryMigrations(t *testing.T) {
	t.Parallel()
	sqlFiles, err := filepath.Glob(filepath.Join("..", "..", "..", "migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "..", "go.mod")); err != nil {
		t.Fatalf("module root is not three levels up: %v", err)
	}
	if got, want := versioned(t, pgtest.New(t)), len(sqlFiles) > 0; got != want {
		t.Errorf("New: goose_db_version exists: got %v, want %v (%d migration files)", got, want, len(sqlFiles))
	}
	empty, _ := pgtest.NewEmpty(t)
	if versioned(t, empty) {
		t.Errorf("NewEmpty: goose_db_version exists: got true, want false")
	}
}

// versioned reports whether goose has recorded migrations in db.
func versioned(t *testing.T, db *sqlx.DB) bool {
	t.Helper()
	var ok bool
	if err := db.Get(&ok, `SELECT to_regclass('goose_db_version') IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	return ok
}
