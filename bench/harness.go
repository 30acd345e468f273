package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/pgserver"
)

// env is what every phase needs: the database, the servers and the tokens.
type env struct {
	o             options
	cfg           config.Config
	dsn           string
	db            *sqlx.DB
	tmp           string
	bin           string // the built recert binary
	owners        []owner
	signer        benchseed.Signer
	recert        *child
	limit         *child
	pgLog         string // the embedded server's log (for -explain)
	results       []phaseResult
	reminderNotes []string
	schedDB       *sqlx.DB // -explain: a pool whose statements auto_explain logs
}

// owner is one line of the tokens file.
type owner struct {
	MCID   string
	Earned int
	Token  string
}

func run(ctx context.Context, o options) error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	if _, err := cfg.EnsureDevSecret(); err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "recert-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e := &env{o: o, cfg: cfg, tmp: tmp, bin: filepath.Join(tmp, "recert"),
		signer: benchseed.Signer{Secret: cfg.HS256Secret, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: 6 * time.Hour}}

	log.Printf("building the server")
	build := exec.CommandContext(ctx, "go", "build", "-o", e.bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	seedBin := e.bin // the working tree's seed-bench, whatever server is measured
	if o.bin != "" {
		e.bin = o.bin
	}

	e.dsn = cfg.DatabaseURL
	if e.dsn == "" {
		pg, err := pgserver.Start(ctx, pgserver.Options{
			DataDir: filepath.Join(cfg.DataDir, "postgres"), BinDir: cfg.PGBin,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: %w", err)
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				log.Printf("stop PostgreSQL: %v", err)
			}
		}()
		if err := pg.EnsureDatabase(ctx, "recert"); err != nil {
			return err
		}
		e.dsn = pg.DSN("recert")
		e.pgLog = filepath.Join(cfg.DataDir, "postgres", "postgres.log")
		pgDataDir = cfg.DataDir
	}

	tokens := filepath.Join(tmp, "tokens.tsv")
	log.Printf("seeding (skipped when the database already holds bench data)")
	seed := exec.CommandContext(ctx, seedBin, "seed-bench", "--profiles", strconv.Itoa(o.profiles),
		"--seed", strconv.FormatInt(o.seed, 10), "--out", tokens, "--ttl", "6h")
	seed.Env = e.childEnv(nil)
	seed.Stdout, seed.Stderr = os.Stderr, filterLogs(os.Stderr)
	if err := seed.Run(); err != nil {
		return fmt.Errorf("seed-bench: %w", err)
	}
	if e.owners, err = readTokens(tokens); err != nil {
		return err
	}
	if len(e.owners) == 0 {
		return fmt.Errorf("no bench profiles in the database")
	}

	if e.db, err = sqlx.Open("postgres", e.dsn); err != nil {
		return err
	}
	defer e.db.Close()
	e.db.SetMaxOpenConns(4)

	if o.explain {
		return e.explainMode(ctx)
	}
	defer e.stopServers() // also the ones started before a failure
	if err := e.startServers(ctx, nil); err != nil {
		return err
	}
	if err := e.phases(ctx); err != nil {
		return err
	}
	e.report(os.Stdout)
	if o.keep {
		log.Printf("servers kept running: Recert http://%s  limit http://%s  pprof http://%s/debug/pprof/ (Ctrl-C to stop)",
			e.recert.addr, e.limit.addr, e.recert.admin)
		<-ctx.Done()
	}
	return nil
}

// childEnv is the environment of the server processes: the same database, secret, issuer
// and audience as the bench, with quiet logs.
func (e *env) childEnv(extra map[string]string) []string {
	vars := map[string]string{
		"DATABASE_URL":      e.dsn,
		"AUTH_HS256_SECRET": string(e.cfg.HS256Secret),
		"AUTH_ISSUER":       e.cfg.Issuer,
		"AUTH_AUDIENCE":     e.cfg.Audience,
		"LOG_LEVEL":         "info", // the default: the access log's cost is part of the measure
		"REMINDER_INTERVAL": "0",    // no reminder worker competing with the measured phases
		// The rate limiters still run (their cost counts) but never refuse: the search and
		// record phases drive everything from one support or exam-delivery token.
		"RATE_LIMIT_RPS": "1000000", "RATE_LIMIT_BURST": "1000000",
		"RATE_LIMIT_SUPPORT_PER_MINUTE": "60000000", "RATE_LIMIT_SUPPORT_BURST": "1000000",
		"RATE_LIMIT_SUPPORT_READS_PER_MINUTE": "60000000", "RATE_LIMIT_SUPPORT_READS_BURST": "1000000",
		"RATE_LIMIT_MERGES_PER_MINUTE": "60000000", "RATE_LIMIT_MERGES_BURST": "1000000",
		"APP_ENV": "development",
	}
	for k, v := range extra {
		vars[k] = v
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vars[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// filterLogs passes plain lines through and drops JSON log lines (the server's slog output).
func filterLogs(w io.Writer) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 64*1024), 1<<20)
		for s.Scan() {
			if line := s.Text(); !strings.HasPrefix(line, "{") {
				fmt.Fprintln(w, line)
			}
		}
	}()
	return pw
}

func readTokens(path string) ([]owner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []owner
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1<<20)
	for s.Scan() {
		parts := strings.Split(s.Text(), "\t")
		if len(parts) != 3 {
			continue
		}
		n, _ := strconv.Atoi(parts[1])
		out = append(out, owner{MCID: parts[0], Earned: n, Token: parts[2]})
	}
	return out, s.Err()
}

// child is a server process started by the bench.
type child struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	admin   string
	exited  chan struct{} // closed once the process has exited
	waitErr error         // how it exited; read after exited is closed
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServers starts Recert and the limit on free loopback ports. extraEnv goes to Recert.
func (e *env) startServers(ctx context.Context, extraEnv map[string]string) error {
	addr, err1 := freeAddr()
	admin, err2 := freeAddr()
	laddr, err3 := freeAddr()
	if err := firstErr(err1, err2, err3); err != nil {
		return err
	}
	vars := map[string]string{"LISTEN_ADDR": addr, "ADMIN_LISTEN_ADDR": admin}
	for k, v := range extraEnv {
		vars[k] = v
	}
	cmd := exec.Command(e.bin)
	cmd.Env = e.childEnv(vars)
	e.recert = &child{name: "recert", cmd: cmd, addr: addr, admin: admin}
	if err := e.start(ctx, e.recert, "/readyz"); err != nil {
		return err
	}
	if e.o.noLimit {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	lcmd := exec.Command(self, "-serve-limit", laddr)
	lcmd.Env = e.childEnv(nil)
	e.limit = &child{name: "limit", cmd: lcmd, addr: laddr}
	return e.start(ctx, e.limit, "/healthz")
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readyTimeout bounds the wait for a child to answer its readiness probe. The wait ends at
// once if the child exits; the bound is only for a child that runs but never gets ready, and
// is generous because a slow or busy machine takes a while to start a server whose first
// connections, migrations check and catalog load go to a database that was just seeded.
const readyTimeout = 5 * time.Minute

func (e *env) start(ctx context.Context, c *child, ready string) error {
	c.cmd.Stdout, c.cmd.Stderr = nil, nil // the null device: logs are written, not kept
	if e.o.verbose {
		c.cmd.Stdout, c.cmd.Stderr = os.Stderr, os.Stderr
	}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	c.exited = make(chan struct{})
	go func() { c.waitErr = c.cmd.Wait(); close(c.exited) }()
	started := time.Now()
	probe := &http.Client{Timeout: 10 * time.Second} // one probe; a slow answer is retried
	deadline := time.After(readyTimeout)
	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
	for {
		resp, err := probe.Get("http://" + c.addr + ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				log.Printf("%s ready on %s (pid %d) after %s", c.name, c.addr, c.pid(), time.Since(started).Round(time.Millisecond))
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.exited:
			return fmt.Errorf("%s exited before it was ready (%v); rerun with -v to see its log", c.name, c.waitErr)
		case <-deadline:
			return fmt.Errorf("%s runs but did not answer %s with 200 in %s (last: %s); rerun with -v to see its log",
				c.name, ready, readyTimeout, probeResult(resp, err))
		case <-progress.C:
			log.Printf("still waiting for %s to be ready (%s so far, last probe: %s)", c.name,
				time.Since(started).Round(time.Second), probeResult(resp, err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func probeResult(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// stopServers ends the children started so far: SIGTERM, then SIGKILL if one is still
// running 15 seconds later. It waits for each to exit.
func (e *env) stopServers() {
	for _, c := range []*child{e.recert, e.limit} {
		if c == nil || c.exited == nil {
			continue
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	e.recert, e.limit = nil, nil
}
