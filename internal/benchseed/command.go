package benchseed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/recert/recert/internal/cli"
	"github.com/recert/recert/internal/database"
	"github.com/recert/recert/internal/date"
)

// Command is `recert seed-bench`: it fills the configured database (DATABASE_URL or the
// embedded one, migrated) with the benchmark volume of issue 8 and writes one development token
// per profile owner. Progress goes to stderr.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer, load database.LoadEnv) error {
	fs := cli.FlagSet("seed-bench", "[flags]", `Fills the database (DATABASE_URL, or the embedded PostgreSQL under DATA_DIR) with the
benchmark data and writes one development token per profile owner. Idempotent for the same
--seed and --ref. Progress goes to stderr.`)
	profiles := fs.Int("profiles", 100_000, "accounts, each with a Learn profile and a certification profile")
	seed := fs.Int64("seed", 1, "seed: the same seed and --ref give the same data")
	ref := fs.String("ref", "", "reference date YYYY-MM-DD expiries are spread around (default: today, UTC)")
	out := fs.String("out", "bench-tokens.tsv", "tokens file: MCID, earned count, token per line (empty: none)")
	ttl := fs.Duration("ttl", 72*time.Hour, "lifetime of the tokens written")
	if _, err := cli.ParseCommand(fs, args, 0, stdout, stderr); err != nil {
		return err
	}
	env, err := load()
	if err != nil {
		return err
	}
	// A batch job, not an API request: no statement, lock or idle-in-transaction timeout on
	// any of its connections (Seed's own steps, the owners' query for the tokens, migrations),
	// whatever DB_STATEMENT_TIMEOUT the server uses (a slower machine outlasts its 10 s).
	env.Config.Hardening.DBStatementTimeout, env.Config.Hardening.DBLockTimeout = 0, 0
	env.Config.Hardening.DBIdleInTxTimeout = 0
	cfg, open := env.Config, env.Open()
	opts := Options{Profiles: *profiles, Seed: *seed, Issuer: cfg.Issuer,
		Log: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}
	if *ref != "" {
		d, err := date.Parse(*ref)
		if err != nil {
			return fmt.Errorf("seed-bench: --ref: %w", err)
		}
		opts.Ref = d
	}
	if _, err := cfg.EnsureDevSecret(); err != nil {
		return err
	}
	db, closeDB, err := open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	sum, err := Seed(ctx, db, opts)
	if err != nil {
		return err
	}
	if sum.AlreadyHad {
		fmt.Fprintf(stderr, "database already seeded (seed %d, ref %s, %d profiles): nothing added\n", sum.Seed, sum.Ref, sum.Profiles)
	} else {
		fmt.Fprintf(stderr, "seeded in %s (seed %d, ref %s)\n", sum.Took.Round(time.Millisecond), sum.Seed, sum.Ref)
	}
	names := make([]string, 0, len(sum.Counts))
	for k := range sum.Counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(stderr, "  %-24s %9d\n", k, sum.Counts[k])
	}
	if *out == "" || len(cfg.HS256Secret) == 0 {
		return nil
	}
	owners, err := Owners(ctx, db, cfg.Issuer)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	signer := Signer{Secret: cfg.HS256Secret, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: *ttl}
	if err := WriteTokens(w, owners, signer, time.Now()); err != nil {
		_ = f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d tokens to %s (valid %s, signed with the configured HS256 secret)\n", len(owners), *out, *ttl)
	return nil
}
