package benchseed_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/database"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// `recert seed-bench` runs under none of the server's database timeouts: with a statement
// timeout of one millisecond (every API statement would be cancelled) the seed, the owners'
// query and the tokens file still complete (issue 12: on a slower machine seeding outlasted
// DB_STATEMENT_TIMEOUT's 10 s).
func TestSeedBenchCommandIgnoresTheServersTimeouts(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.NewWithDSN(t)
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": dsn, "DATA_DIR": dir, "DB_STATEMENT_TIMEOUT": "1ms",
		"DB_LOCK_TIMEOUT": "1ms", "DB_IDLE_IN_TX_TIMEOUT": "1ms"}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hardening.DBStatementTimeout.Milliseconds() != 1 {
		t.Fatalf("statement timeout %v, want 1ms", cfg.Hardening.DBStatementTimeout)
	}
	load := func() (database.Env, error) {
		return database.Env{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Migrations: pgtest.Migrations(t)}, nil
	}
	out := filepath.Join(dir, "tokens.tsv")
	var stderr bytes.Buffer
	args := []string{"--profiles", "200", "--seed", "5", "--ref", "2021-03-01", "--out", out}
	if err := benchseed.Command(context.Background(), args, io.Discard, &stderr, load); err != nil {
		t.Fatalf("seed-bench: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n < 200 {
		t.Fatalf("tokens file has %d lines, want at least 200\n%s", n, stderr.String())
	}
}
