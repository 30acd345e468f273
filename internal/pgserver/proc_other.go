//go:build !linux

package pgserver

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// setPdeathsig does nothing: only Linux can signal a child when its parent dies. Elsewhere a
// server left by a killed process is stopped by the next Start on the same DataDir.
func setPdeathsig(*syscall.SysProcAttr) {}

// processAlive reports whether pid runs (EPERM means it exists under another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// parentPID is unknown without /proc.
func parentPID(int) (int, bool) { return 0, false }

// isPostgresIn reports whether pid is a postgres process. Without /proc the data directory
// cannot be checked; the pid comes from that directory's own postmaster.pid.
func isPostgresIn(pid int, _ string) bool {
	out, err := exec.Command("ps", "-o", "comm=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && strings.HasSuffix(strings.TrimSpace(string(out)), "postgres")
}

// postgresInDir is unknown without /proc.
func postgresInDir(string) []int { return nil }
