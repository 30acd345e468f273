// Package pgtest gives each test a PostgreSQL database of its own, cloned from a template that
// holds the repository's migrations, and drops it when the test ends.
//
// Call Main from the package's TestMain, then New in each test:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		db := pgtest.New(t)
//		...
//	}
//
// The server is TEST_DATABASE_URL when set: a lib/pq connection string (URL or key=value) for a
// role allowed to create databases on a server that is already running. Otherwise the first
// New of the process starts a throwaway server (package pgserver) in a temporary directory (in
// /dev/shm when possible), with durability off, and Main stops it and deletes the directory. Each package's tests run
// in their own process and so get their own throwaway server.
//
// The template is the migrations in <module root>/migrations (found by walking up from the
// working directory to the go.mod beside migrations/) applied to a new database. It is built at most once per set of
// migration files: its name, recert_tpl_<hash>, carries a hash of those files. A process builds
// it under an advisory lock on the admin connection's database and renames it into place when
// complete, so processes running at once against one TEST_DATABASE_URL share it and never see
// it half-built. Templates of older migration sets stay on such a server; drop them when no
// tests run (ALTER DATABASE ... IS_TEMPLATE false, then DROP DATABASE).
//
// Test databases are named recert_<test name>_<random>, so concurrent processes never collide.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/recert/recert/internal/catalog/seed"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/pgserver"
	"github.com/recert/recert/internal/postgres"
)

const (
	envURL = "TEST_DATABASE_URL"
	// templateLockKey guards building a template ("recertTP").
	templateLockKey int64 = 0x7265636572745450
	// templateFormat changes the template names when the way templates are built changes.
	templateFormat = "1"
	setupTimeout   = 5 * time.Minute
	createTimeout  = time.Minute
)

var (
	mainCalled atomic.Bool

	setupOnce sync.Once
	shared    *cluster // set by setupOnce; nil if setup failed or never ran
	setupErr  error
)

// cluster is the server of this test process and its template.
type cluster struct {
	admin    *sql.DB
	dsn      func(dbname string) string
	template string
	server   *pgserver.Server // nil with TEST_DATABASE_URL
	dir      string           // the throwaway server's data directory
}

// Main runs the package's tests, stops the throwaway server if one was started, and exits
// with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if shared != nil {
		if err := shared.close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// New returns a pool on a new database cloned from the migrated template. The database is
// dropped when the test and its subtests end, after the pool is closed.
func New(t testing.TB) *sqlx.DB {
	t.Helper()
	db, _ := NewWithDSN(t)
	return db
}

// NewWithDSN is New that also returns the database's connection string, for code that opens
// its own connections.
func NewWithDSN(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	c := setup(t)
	return c.newDB(t, c.template)
}

// NewEmpty is NewWithDSN for a database with no migrations applied (a copy of template0), for
// testing migrations themselves.
func NewEmpty(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	return setup(t).newDB(t, "template0")
}

func setup(t testing.TB) *cluster {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: call pgtest.Main(m) from this package's TestMain")
	}
	setupOnce.Do(func() { shared, setupErr = newCluster() })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	return shared
}

func newCluster() (_ *cluster, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	migrations, err := migrationsDir()
	if err != nil {
		return nil, err
	}
	c := &cluster{}
	defer func() {
		if err != nil {
			_ = c.close() // the setup error says more
		}
	}()
	var adminDSN string
	if u := os.Getenv(envURL); u != "" {
		if _, err := withDatabase(u, "x"); err != nil {
			return nil, fmt.Errorf("%s: %w", envURL, err)
		}
		adminDSN = u
		c.dsn = func(dbname string) string {
			dsn, _ := withDatabase(u, dbname) // u was checked above
			return dsn
		}
	} else {
		parent := scratchParent()
		sweepAbandoned(parent)
		if c.dir, err = os.MkdirTemp(parent, "pgtest-"); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(c.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return nil, err
		}
		c.server, err = pgserver.Start(ctx, pgserver.Options{DataDir: c.dir, Fast: true})
		if err != nil {
			return nil, fmt.Errorf("start a throwaway PostgreSQL (or set %s to an admin connection string): %w", envURL, err)
		}
		adminDSN, c.dsn = c.server.DSN("postgres"), c.server.DSN
	}
	if c.admin, err = sql.Open("postgres", adminDSN); err != nil {
		return nil, err
	}
	if err := c.admin.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect to the admin database: %w", err)
	}
	if c.template, err = c.ensureTemplate(ctx, migrations); err != nil {
		return nil, err
	}
	return c, nil
}

// scratchParent returns where the throwaway cluster goes: /dev/shm when it is a roomy tmpfs, as
// on most Linux machines, else os.TempDir(). In memory, CREATE DATABASE creates its few hundred
// files in about 20ms instead of 50-400ms on disk; the data is disposable anyway.
func scratchParent() string {
	const shm, minFree = "/dev/shm", 1 << 30
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err == nil && int64(st.Bavail)*int64(st.Bsize) >= minFree &&
		syscall.Access(shm, 0o7 /* rwx */) == nil {
		return shm
	}
	return os.TempDir()
}

// ownerFile in a throwaway server's directory holds the pid of the test process using it.
const ownerFile = "pgtest.pid"

// sweepAbandoned deletes the directories of throwaway servers whose test process died before
// Main could (a panic, a -timeout): in /dev/shm they would hold memory until reboot. A
// directory is left alone while its test process or its postmaster may still run.
func sweepAbandoned(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "pgtest-*"))
	for _, d := range dirs {
		if pidAlive(filepath.Join(d, ownerFile)) || pidAlive(filepath.Join(d, "pg", "postmaster.pid")) {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, ownerFile)); err != nil {
			continue // not ours, or being set up
		}
		_ = os.RemoveAll(d) // best effort; the next sweep retries
	}
}

// pidAlive reports whether the pid on the first line of file may still run. A missing file
// means no.
func pidAlive(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func (c *cluster) close() error {
	var errs []error
	if c.admin != nil {
		errs = append(errs, c.admin.Close())
	}
	if c.server != nil {
		errs = append(errs, c.server.Stop())
	}
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// Migrations returns the repository's migrations directory (<module root>/migrations), for
// tests that run the migration runner or a command that migrates.
func Migrations(t testing.TB) fs.FS {
	t.Helper()
	dir, err := migrationsDir()
	if err != nil {
		t.Fatal(err)
	}
	return os.DirFS(dir)
}

// migrationsDir returns <module root>/migrations, the module root being the nearest parent of
// the working directory (the package under test) that holds go.mod and migrations/ (bench/ is
// a module of its own, without migrations: its tests use the server's).
func migrationsDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if st, err := os.Stat(filepath.Join(dir, "migrations")); err == nil && st.IsDir() {
				return filepath.Join(dir, "migrations"), nil
			}
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("no go.mod beside a migrations directory in %s or its parents", wd)
		}
	}
}

// ensureTemplate returns the name of the template holding the migrations in dir, building it
// unless another process (or an earlier run) did.
func (c *cluster) ensureTemplate(ctx context.Context, dir string) (string, error) {
	sum, hasMigrations, err := hashMigrations(dir)
	if err != nil {
		return "", err
	}
	name := "recert_tpl_" + sum
	build := name + "_build"

	conn, err := c.admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, templateLockKey); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	defer func() {
		// Closing the pool would release it too; the pool keeps the session until then.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, templateLockKey)
	}()

	var exists bool
	const q = `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`
	if err := conn.QueryRowContext(ctx, q, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return name, nil
	}
	// A process killed while building left this behind; we hold the lock, so nobody uses it.
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(build)+` WITH (FORCE)`); err != nil {
		return "", fmt.Errorf("drop unfinished template: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(build)+` TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	// Before the real migrations exist the template is simply empty.
	if hasMigrations {
		db, err := sql.Open("postgres", c.dsn(build))
		if err != nil {
			return "", err
		}
		err = postgres.Migrate(ctx, db, os.DirFS(dir))
		if err == nil {
			err = loadCatalog(ctx, db)
		}
		_ = db.Close() // the template must have no sessions to be renamed and cloned
		if err != nil {
			return "", fmt.Errorf("migrate template from %s: %w", dir, err)
		}
	}
	err = retryInUse(ctx, func() error {
		_, err := conn.ExecContext(ctx, `ALTER DATABASE `+pq.QuoteIdentifier(build)+` RENAME TO `+pq.QuoteIdentifier(name))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("publish template: %w", err)
	}
	// No connections: a session on a template makes CREATE DATABASE ... TEMPLATE fail.
	if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+pq.QuoteIdentifier(name)+` WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`); err != nil {
		return "", fmt.Errorf("publish template: %w", err)
	}
	return name, nil
}

// catalogLoadedAt is the fixed instant the template's catalog rows carry.
var catalogLoadedAt = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// loadCatalog loads the shipped catalog into the template, so every test starts with it, as a
// server does after its first start.
func loadCatalog(ctx context.Context, db *sql.DB) error {
	cat, err := seed.Load()
	if err != nil {
		return fmt.Errorf("shipped catalog: %w", err)
	}
	return postgres.New(sqlx.NewDb(db, "postgres")).LoadCatalog(ctx, cat, catalogLoadedAt)
}

// hashMigrations returns a short hash of the names and contents of the files in dir, and
// whether there are any .sql files. A missing dir counts as empty.
func hashMigrations(dir string) (sum string, hasSQL bool, err error) {
	h := sha256.New()
	h.Write([]byte(templateFormat + "\x00"))
	if cat, err := seed.Load(); err == nil {
		b, _ := json.Marshal(cat)
		h.Write(b) // the shipped catalog is part of the template
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read migrations: %w", err)
	}
	for _, e := range entries { // sorted by name
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", false, fmt.Errorf("read migrations: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
		hasSQL = hasSQL || strings.HasSuffix(e.Name(), ".sql")
	}
	return hex.EncodeToString(h.Sum(nil))[:16], hasSQL, nil
}

// newDB creates a database from template for t and drops it in t.Cleanup.
func (c *cluster) newDB(t testing.TB, template string) (*sqlx.DB, string) {
	t.Helper()
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	err := retryInUse(ctx, func() error {
		_, err := c.admin.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)+` TEMPLATE `+pq.QuoteIdentifier(template))
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	dsn := c.dsn(name)
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		_ = db.Close() // FORCE below ends whatever sessions remain
		ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
		defer cancel()
		if _, err := c.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("pgtest: connect to %s: %v", name, err)
	}
	return db, dsn
}

// dbName makes a database name from the test name and a random suffix, within PostgreSQL's 63
// bytes.
func dbName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 38 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	return "recert_" + strings.TrimSuffix(b.String(), "_") + "_" + strings.ToLower(rand.Text()[:12])
}

// retryInUse retries f while PostgreSQL reports that a database it needs still has sessions
// (object_in_use): backends of a pool just closed take a moment to exit.
func retryInUse(ctx context.Context, f func() error) error {
	for {
		err := f()
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) || pqErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// withDatabase returns dsn, a URL or key=value connection string, pointed at database dbname.
func withDatabase(dsn, dbname string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Del("dbname")
		u.RawQuery = q.Encode()
		u.Path, u.RawPath = "/"+dbname, ""
		return u.String(), nil
	}
	// lib/pq keeps the last value given for a key.
	return dsn + " dbname='" + dbname + "'", nil
}
