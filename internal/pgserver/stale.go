package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ownerFile, next to the cluster, holds the pid of the Go process whose Start launched the
// running postmaster. It lets the next Start tell a server orphaned by a killed process from
// one that a live process is still using.
const ownerFile = "pgserver.owner"

// recoverStale makes the cluster in pgDir startable after a previous owner died without
// Stop. A live postmaster whose owner is gone is shut down; a postmaster.pid naming a dead or
// foreign process is removed (postgres refuses to start while the pid it names is alive, and
// pids get recycled, in containers especially).
func recoverStale(ctx context.Context, log *slog.Logger, dataDir, pgDir string) error {
	pidPath := filepath.Join(pgDir, "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 || !processAlive(pid) || !isPostgresIn(pid, pgDir) {
		log.Info("pgserver: removing stale postmaster.pid", "pid", first)
		if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale postmaster.pid: %w", err)
		}
		// Backends of a postmaster killed with SIGKILL may still hold its shared memory.
		return waitForOrphans(ctx, log, pgDir)
	}
	if owner := readOwner(dataDir); owner > 0 && ownerLive(owner, pid) {
		return fmt.Errorf("pgserver: %s is in use by postgres (pid %d) started by live process %d", pgDir, pid, owner)
	}
	log.Warn("pgserver: stopping postgres left running by a previous process", "pid", pid, "data", pgDir)
	if err := stopPID(ctx, pid); err != nil {
		return err
	}
	return waitForOrphans(ctx, log, pgDir)
}

// ownerLive reports whether owner still runs the postmaster pid. Where the parent is known
// (Linux) it must be owner: an orphan is adopted by init or a subreaper.
func ownerLive(owner, postmaster int) bool {
	if ppid, ok := parentPID(postmaster); ok {
		return ppid == owner
	}
	return owner == os.Getpid() || processAlive(owner)
}

func readOwner(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, ownerFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// stopPID asks postgres for a fast shutdown (SIGINT), then an immediate one (SIGQUIT), then
// kills it, waiting after each step.
func stopPID(ctx context.Context, pid int) error {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{
		{syscall.SIGINT, 20 * time.Second},
		{syscall.SIGQUIT, 5 * time.Second},
		{syscall.SIGKILL, 5 * time.Second},
	}
	for _, s := range steps {
		if err := syscall.Kill(pid, s.sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return nil
			}
			return fmt.Errorf("pgserver: signal postgres pid %d: %w", pid, err)
		}
		if waitGone(ctx, s.wait, func() bool { return !processAlive(pid) }) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return fmt.Errorf("pgserver: postgres pid %d survived SIGKILL", pid)
}

// waitForOrphans waits for postgres processes still working in pgDir to exit, and kills those
// that linger. A new postmaster refuses to start while one of them holds the old shared memory.
func waitForOrphans(ctx context.Context, log *slog.Logger, pgDir string) error {
	gone := func() bool { return len(postgresInDir(pgDir)) == 0 }
	if waitGone(ctx, 5*time.Second, gone) {
		return nil
	}
	for _, pid := range postgresInDir(pgDir) {
		log.Warn("pgserver: killing leftover postgres process", "pid", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL) // it may exit on its own meanwhile
	}
	if waitGone(ctx, 5*time.Second, gone) {
		return nil
	}
	return fmt.Errorf("pgserver: postgres processes %v still run in %s", postgresInDir(pgDir), pgDir)
}

// waitGone polls done until it holds, d passes or ctx ends, and reports whether it held.
func waitGone(ctx context.Context, d time.Duration, done func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
