package pgserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// StartStandby makes a streaming-replication hot standby of s under o.DataDir (a base backup
// with pg_basebackup -R, unless o.DataDir already holds a cluster) and starts it with o. It
// answers reads, refuses writes (SQLSTATE 25006) and reports pg_is_in_recovery() true: a
// read replica, or the demoted side of a failover, for tests and drills.
func (s *Server) StartStandby(ctx context.Context, o Options) (*Server, error) {
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgserver: standby data dir: %w", err)
	}
	pgDir := filepath.Join(dataDir, "pg")
	if _, err := os.Stat(filepath.Join(pgDir, "PG_VERSION")); err != nil {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("pgserver: create standby data dir: %w", err)
		}
		cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "pg_basebackup"),
			"-D", pgDir, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast",
			"-h", s.sockDir, "-p", strconv.Itoa(s.port), "-U", superuser)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("pgserver: pg_basebackup: %w\n%s", err, lastLines(string(out), 20))
		}
	}
	if o.BinDir == "" {
		o.BinDir = s.binDir
	}
	return Start(ctx, o)
}

// SocketDir is the directory of the server's unix socket: the host of a lib/pq connection
// string (a multi-host list names several).
func (s *Server) SocketDir() string { return s.sockDir }

// Port is the server's port (the number in its socket's name when it has no TCP listener).
func (s *Server) Port() int { return s.port }
