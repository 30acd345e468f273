package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/date"
)

// seedBenchCmd fills the configured database (DATABASE_URL or the embedded one) with the
// benchmark volume of issue 8 and writes one development token per profile owner.
func seedBenchCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("seed-bench", flag.ContinueOnError)
	profiles := fs.Int("profiles", 100_000, "accounts, each with a Learn profile and a certification profile")
	seed := fs.Int64("seed", 1, "seed: the same seed and --ref give the same data")
	ref := fs.String("ref", "", "reference date YYYY-MM-DD expiries are spread around (default: today, UTC)")
	out := fs.String("out", "bench-tokens.tsv", "tokens file: MCID, earned count, token per line (empty: none)")
	ttl := fs.Duration("ttl", 72*time.Hour, "lifetime of the tokens written")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := benchseed.Options{Profiles: *profiles, Seed: *seed, Issuer: cfg.Issuer,
		Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }}
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
	db, closeDB, err := database(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := prepare(ctx, db, clock.Real{}); err != nil {
		return err
	}
	sum, err := benchseed.Seed(ctx, db, opts)
	if err != nil {
		return err
	}
	if sum.AlreadyHad {
		fmt.Fprintf(os.Stderr, "database already seeded (seed %d, ref %s, %d profiles): nothing added\n", sum.Seed, sum.Ref, sum.Profiles)
	} else {
		fmt.Fprintf(os.Stderr, "seeded in %s (seed %d, ref %s)\n", sum.Took.Round(time.Millisecond), sum.Seed, sum.Ref)
	}
	names := make([]string, 0, len(sum.Counts))
	for k := range sum.Counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(os.Stderr, "  %-24s %9d\n", k, sum.Counts[k])
	}
	if *out == "" || len(cfg.HS256Secret) == 0 {
		return nil
	}
	owners, err := benchseed.Owners(ctx, db, cfg.Issuer)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	signer := benchseed.Signer{Secret: cfg.HS256Secret, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: *ttl}
	if err := benchseed.WriteTokens(w, owners, signer, time.Now()); err != nil {
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
	fmt.Fprintf(os.Stderr, "wrote %d tokens to %s (valid %s, signed with the configured HS256 secret)\n", len(owners), *out, *ttl)
	return nil
}
