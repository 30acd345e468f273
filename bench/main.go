// Command bench is Recert's load benchmark (issue 8). One command does everything:
//
//	go run ./bench                      # seed if needed, start Recert and the limit, run every scenario
//	go run ./bench -duration 20s        # longer rounds
//	go run ./bench -only dashboard      # some scenarios: dashboard,search,record,renewal,merge,reminders
//	go run ./bench -explain             # plan-check every query the scenarios run (no load)
//
// It uses the configured database (DATABASE_URL, or the embedded PostgreSQL under DATA_DIR,
// which it starts), seeds it with `recert seed-bench` when it holds no bench data (about two
// minutes for 100,000 profiles; kept for later runs), builds and starts the server as a child
// process on a free loopback port with pprof on a loopback admin listener, starts the
// hand-written limit (this binary with -serve-limit) the same way, and drives both with
// github.com/tsenart/vegeta at a fixed concurrency over keep-alive connections. It prints
// req/s, p50, p99, errors, and the server's CPU and peak RSS read from /proc for every phase.
// All traffic stays on 127.0.0.1; every phase is bounded by -duration and -max-requests.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration       time.Duration
	concurrency    int
	rounds         int
	maxRequests    int
	only           string
	explain        bool
	profiles       int
	seed           int64
	merges         int
	renewals       int
	keep           bool
	cpuProfile     string
	memProfile     string
	serveLimit     string
	noLimit        bool
	warmup         time.Duration
	verbose        bool
	queryFile      string
	bin            string
	reminderEarned int
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured phase (each dashboard round too)")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent requests of the dashboard, search and record phases")
	flag.IntVar(&o.rounds, "rounds", 3, "A/B rounds of the dashboard: limit, Recert, limit, Recert, ...")
	flag.IntVar(&o.maxRequests, "max-requests", 500_000, "cap on the requests of one phase")
	flag.StringVar(&o.only, "only", "", "comma-separated scenarios (dashboard,search,record,renewal,merge,reminders); empty: all")
	flag.BoolVar(&o.explain, "explain", false, "plan-check mode: run each scenario briefly with auto_explain on and fail on a sequential scan of a large table")
	flag.IntVar(&o.profiles, "profiles", 100_000, "profiles to seed when the database holds no bench data")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the generated data")
	flag.IntVar(&o.merges, "merges", 5, "merges of a 1,000-certification profile to time")
	flag.IntVar(&o.renewals, "renewals", 200, "start/submit renewal cycles to run")
	flag.IntVar(&o.reminderEarned, "reminder-earned", 1_000_000, "earned certifications the reminder pass runs over (the database is topped up to this)")
	flag.BoolVar(&o.keep, "keep", false, "keep the servers running after the phases (Ctrl-C to stop)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of Recert taken during its last dashboard round to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of Recert (after the dashboard rounds) to this file")
	flag.StringVar(&o.serveLimit, "serve-limit", "", "internal: serve the hand-written limit on this address")
	flag.BoolVar(&o.noLimit, "no-limit", false, "skip the hand-written limit (Recert rounds only)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each server's first round")
	flag.BoolVar(&o.verbose, "v", false, "print the servers' logs")
	flag.StringVar(&o.bin, "bin", "", "benchmark this recert binary instead of building the working tree (before/after comparisons)")
	flag.StringVar(&o.queryFile, "query-file", "", "experiments: send this GraphQL document (variable $mcid) to Recert instead of the dashboard query")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")

	if o.queryFile != "" {
		b, err := os.ReadFile(o.queryFile)
		if err != nil {
			log.Fatal(err)
		}
		dashboardQuery = string(b)
	}
	if o.serveLimit != "" {
		if err := serveLimit(o.serveLimit); err != nil {
			log.Fatal(err)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func (o options) wants(name string) bool {
	if o.only == "" {
		return true
	}
	for _, s := range strings.Split(o.only, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

// moduleRoot walks up from the working directory to the server's module (the go.mod of
// github.com/recert/recert; bench/ has a go.mod of its own).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			regexp.MustCompile(`(?m)^module\s+github\.com/recert/recert\s*$`).Match(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/recert/recert above the working directory: run from the repository")
		}
		dir = parent
	}
}
