package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// instance is one Recert server process.
type instance struct {
	name string
	addr string
	p    *proc
}

func (i *instance) base() string { return "http://" + i.addr }

// ready probes /readyz once: whether it answered 200, and what it answered.
func (i *instance) ready(probe *http.Client) (bool, string) {
	resp, err := probe.Get(i.base() + "/readyz")
	if err != nil {
		return false, err.Error()
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.Status
}

// moduleRoot walks up from the working directory to the server's module.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	re := regexp.MustCompile(`(?m)^module\s+github\.com/recert/recert\s*$`)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && re.Match(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/recert/recert above the working directory: run from the repository")
		}
		dir = parent
	}
}

// recertEnv is the environment of every Recert process: the multi-host DSN, the development
// HS256 secret (APP_ENV=development also lets a webhook endpoint be plain http to loopback),
// the fake SMTP server, 2 s reminder and webhook passes, and no rate limits (the drill's
// writers all use one exam-delivery and one support token).
func recertEnv(dsn, secret, smtpURL, dataDir string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dataDir,
		"APP_ENV=development", "DATA_DIR=" + dataDir, "DATABASE_URL=" + dsn,
		"AUTH_HS256_SECRET=" + secret, "AUTH_ISSUER=recert-dev", "AUTH_AUDIENCE=recert",
		"SMTP_URL=" + smtpURL, "REMINDER_INTERVAL=2s", "WEBHOOK_INTERVAL=2s", "LOG_LEVEL=info",
		"DB_CONNECT_TIMEOUT=2s",
		"RATE_LIMIT_RPS=0", "RATE_LIMIT_ANON_RPS=0", "RATE_LIMIT_SUPPORT_PER_MINUTE=0",
		"RATE_LIMIT_SUPPORT_READS_PER_MINUTE=0", "RATE_LIMIT_MERGES_PER_MINUTE=0",
	}
	return append(env, extra...)
}

// runTool runs the recert binary's command to completion with a time limit.
func runTool(ctx context.Context, limit time.Duration, logPath string, env []string, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("recert %s: %w (log %s):\n%s", strings.Join(args, " "), err, logPath, tail(logPath, 1500))
	}
	return nil
}

// startInstance starts `recert serve` and waits for /readyz.
func startInstance(ctx context.Context, ps *procs, name, bin, addr, logPath string, env []string) (*instance, error) {
	p, err := ps.start(name, logPath, runAs{}, append(env, "LISTEN_ADDR="+addr), bin, "serve")
	if err != nil {
		return nil, err
	}
	in := &instance{name: name, addr: addr, p: p}
	probe := &http.Client{Timeout: 5 * time.Second}
	err = waitFor(ctx, name+" /readyz", 3*time.Minute, func() (bool, string) {
		if !p.running() {
			return false, "exited: " + tail(logPath, 1500)
		}
		return in.ready(probe)
	})
	if err != nil {
		return nil, err
	}
	log.Printf("%s ready on %s (pid %d)", name, addr, p.pid())
	return in, nil
}

// tokenLine is one line of seed-bench's tokens file.
type tokenLine struct {
	MCID  string
	Token string
}

func readTokens(path string) ([]tokenLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []tokenLine
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1<<20)
	for s.Scan() {
		parts := strings.Split(s.Text(), "\t")
		if len(parts) == 3 {
			if _, err := strconv.ParseInt(parts[0], 10, 64); err == nil {
				out = append(out, tokenLine{MCID: parts[0], Token: parts[2]})
			}
		}
	}
	return out, s.Err()
}

// readyWatch polls an instance's /readyz every 500 ms and counts the failed probes, so the
// report can say whether readiness dropped during the events and came back.
type readyWatch struct {
	in     *instance
	failed int
	ok     int
	done   chan struct{} // closed when run returns; read the counts after
}

func (r *readyWatch) run(ctx context.Context) {
	defer close(r.done)
	probe := &http.Client{Timeout: 2 * time.Second}
	for ctx.Err() == nil {
		if ok, _ := r.in.ready(probe); ok {
			r.ok++
		} else {
			r.failed++
		}
		sleep(ctx, 500*time.Millisecond)
	}
}
