// Package pgserver runs a private PostgreSQL server from binaries installed on the machine, for
// development and tests: one data directory, reached over a unix socket, trusted without a
// password. It is not meant for production.
//
// A data directory holds:
//
//	pg/              the cluster (initdb runs once; data survives restarts)
//	sock/            the unix socket, unless that path is too long for a socket (see Start)
//	postgres.log     the server's output for the current run (postgres.log.1: the previous one)
//	pgserver.owner   the pid of the Go process that started the running server
//
// PostgreSQL refuses to run as root. When the calling process is root, Start runs initdb and
// postgres as the user postgres, or nobody if there is no such user: it gives the data
// directory tree to that user and adds the execute (traverse) bit for others to every parent
// directory that lacks it, so the user can reach the data directory.
package pgserver

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// Options configures Start.
type Options struct {
	// DataDir holds the cluster, the socket and the log. It is created if missing and reused
	// by later Starts.
	DataDir string
	// BinDir is the directory holding initdb and postgres. Optional: see Start for the
	// search order when it is empty or unusable.
	BinDir string
	// Port is the TCP port to listen on at 127.0.0.1. 0 means no TCP at all: clients use the
	// unix socket (see Server.DSN).
	Port int
	// Logger receives what Start and Stop do (initdb, stale server recovery). Nil discards.
	// The server's own output goes to postgres.log in DataDir.
	Logger *slog.Logger
	// Fast trades durability for speed, for tests: fsync, synchronous_commit and
	// full_page_writes are off and initdb skips its final sync. A machine crash can corrupt
	// the cluster.
	Fast bool
}

// Server is a running PostgreSQL started by Start. Its methods are safe for concurrent use.
type Server struct {
	log      *slog.Logger
	binDir   string
	dataDir  string // Options.DataDir, absolute, symlinks resolved
	pgDir    string // the cluster
	sockDir  string
	tempSock bool // sockDir lives in os.TempDir() and is removed by Stop
	port     int  // TCP port, and the number in the socket's file name
	account  *account

	cmd     *exec.Cmd
	done    chan struct{} // closed when postgres has exited
	waitErr error         // how it exited; read only after done is closed

	stopOnce sync.Once
	stopErr  error
}

// account is the unprivileged user that runs initdb and postgres when we are root.
type account struct {
	name     string
	uid, gid uint32
}

const (
	superuser    = "postgres"
	defaultPort  = 5432
	startTimeout = 30 * time.Second
	logName      = "postgres.log"
	// maxSocketPath is the longest unix socket path: sun_path holds 108 bytes with the NUL.
	maxSocketPath = 107
)

// Start starts PostgreSQL on o.DataDir, running initdb first if the cluster does not exist, and
// returns once the server accepts connections (or after 30 seconds, with the end of its log in
// the error). ctx bounds the startup only; the server runs until Stop.
//
// The binaries come from the first usable directory among o.BinDir, $PG_BIN,
// `pg_config --bindir` (when pg_config is on PATH), and the highest version installed in
// /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin or /opt/homebrew/opt/postgresql*/bin. If none
// is usable the error wraps ErrNotFound and says how to install PostgreSQL.
//
// The unix socket goes to DataDir/sock, or to a new directory under os.TempDir() when that path
// would exceed the 107 bytes a socket path may have.
//
// If a previous process was killed while its server ran, Start shuts that server down (on
// Linux the kernel has usually done so already, see Stop) and removes a postmaster.pid naming a
// dead or recycled pid. It fails if a live process still runs a server on DataDir.
//
// postgres runs in its own process group, so a terminal's Ctrl-C reaches only the Go process,
// which should call Stop. On Linux it is also told to shut down if the Go process dies.
func Start(ctx context.Context, o Options) (*Server, error) {
	return start(ctx, o, defaultFinder, true)
}

// start is Start with the binary search and the parent-death signal injectable for tests.
func start(ctx context.Context, o Options, f finder, pdeathsig bool) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("pgserver: Options.DataDir is empty")
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("pgserver: invalid port %d", o.Port)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	binDir, err := f.find(o.BinDir)
	if err != nil {
		return nil, err
	}
	if o.BinDir != "" && binDir != o.BinDir {
		log.Warn("pgserver: Options.BinDir unusable, using another installation", "bindir", o.BinDir, "using", binDir)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgserver: data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("pgserver: create data dir: %w", err)
	}
	// /proc reports working directories with symlinks resolved (/tmp on macOS is one).
	if dataDir, err = filepath.EvalSymlinks(dataDir); err != nil {
		return nil, fmt.Errorf("pgserver: data dir: %w", err)
	}
	s := &Server{
		log:     log,
		binDir:  binDir,
		dataDir: dataDir,
		pgDir:   filepath.Join(dataDir, "pg"),
		port:    o.Port,
		done:    make(chan struct{}),
	}
	if s.port == 0 {
		s.port = defaultPort // only names the socket file: no TCP listener
	}
	if os.Geteuid() == 0 {
		if s.account, err = unprivilegedAccount(); err != nil {
			return nil, err
		}
	}
	if err := recoverStale(ctx, log, s.dataDir, s.pgDir); err != nil {
		return nil, err
	}
	if err := s.prepareDirs(); err != nil {
		s.removeTempSocketDir()
		return nil, err
	}
	if err := s.initdb(ctx, o.Fast); err != nil {
		s.removeTempSocketDir()
		return nil, err
	}
	if err := s.launch(o, pdeathsig); err != nil {
		s.removeTempSocketDir()
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return nil, err
	}
	log.Info("pgserver: started", "data", s.pgDir, "socket", s.sockDir, "bin", s.binDir)
	return s, nil
}

// unprivilegedAccount picks the user that runs PostgreSQL for a root process.
func unprivilegedAccount() (*account, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &account{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgserver: PostgreSQL refuses to run as root, and there is no user postgres or nobody to run it as")
}

// prepareDirs creates the cluster and socket directories, clears socket files a killed server
// left, and, when we are root, hands everything to the account that runs postgres.
func (s *Server) prepareDirs() error {
	if err := os.Mkdir(s.pgDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("pgserver: create cluster dir: %w", err)
	}
	if err := s.makeSocketDir(); err != nil {
		return err
	}
	// No server runs on this cluster any more (recoverStale), so a socket lock file here is
	// stale, and postgres would refuse to start if the pid in it had been recycled.
	stale, _ := filepath.Glob(filepath.Join(s.sockDir, ".s.PGSQL.*"))
	for _, f := range stale {
		_ = os.Remove(f) // best effort; postgres reports what still blocks it
	}
	if s.account == nil {
		return nil
	}
	dirs := []string{s.dataDir}
	if s.tempSock {
		dirs = append(dirs, s.sockDir)
	}
	for _, d := range dirs {
		if err := chownTree(d, s.account); err != nil {
			return err
		}
		if err := makeParentsTraversable(s.log, d); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) makeSocketDir() error {
	suffix := len("/.s.PGSQL.") + len(strconv.Itoa(s.port))
	dir := filepath.Join(s.dataDir, "sock")
	if len(dir)+suffix <= maxSocketPath {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("pgserver: create socket dir: %w", err)
		}
		s.sockDir = dir
		return nil
	}
	dir, err := os.MkdirTemp("", "pgsock-")
	if err != nil {
		return fmt.Errorf("pgserver: create socket dir: %w", err)
	}
	if len(dir)+suffix > maxSocketPath {
		_ = os.Remove(dir)
		return fmt.Errorf("pgserver: socket paths under %s and %s exceed %d bytes; use a shorter DataDir or TMPDIR",
			s.dataDir, os.TempDir(), maxSocketPath)
	}
	s.log.Info("pgserver: data dir too long for a unix socket, using a temporary socket dir", "socket", dir)
	s.sockDir, s.tempSock = dir, true
	return nil
}

func (s *Server) removeTempSocketDir() {
	if s.tempSock {
		_ = os.RemoveAll(s.sockDir) // it only holds the socket
	}
}

// chownTree gives root and everything below it to a.
func chownTree(root string, a *account) error {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid && st.Gid == a.gid {
			return nil
		}
		return os.Lchown(path, int(a.uid), int(a.gid))
	})
	if err != nil {
		return fmt.Errorf("pgserver: give %s to user %s: %w", root, a.name, err)
	}
	return nil
}

// makeParentsTraversable adds the execute bit for others to each parent of dir that lacks it
// (t.TempDir() and /root are 0700), so the unprivileged account can reach dir.
func makeParentsTraversable(log *slog.Logger, dir string) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgserver: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			mode := fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) | 0o001
			log.Info("pgserver: making parent dir traversable for postgres", "dir", d, "mode", mode)
			if err := os.Chmod(d, mode); err != nil {
				return fmt.Errorf("pgserver: make %s traversable: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// sysProcAttr switches to the unprivileged account when we are root.
func (s *Server) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if s.account != nil {
		attr.Credential = &syscall.Credential{Uid: s.account.uid, Gid: s.account.gid}
	}
	return attr
}

// initdb creates the cluster unless it exists. It tries the C.UTF-8 locale first and falls
// back to C, which every platform has.
func (s *Server) initdb(ctx context.Context, fast bool) error {
	if _, err := os.Stat(filepath.Join(s.pgDir, "PG_VERSION")); err == nil {
		return nil
	}
	var errs []error
	for _, locale := range []string{"C.UTF-8", "C"} {
		// Start from an empty directory: an interrupted or failed initdb leaves files behind.
		if err := os.RemoveAll(s.pgDir); err != nil {
			return fmt.Errorf("pgserver: clear cluster dir: %w", err)
		}
		if err := os.Mkdir(s.pgDir, 0o700); err != nil {
			return fmt.Errorf("pgserver: create cluster dir: %w", err)
		}
		if s.account != nil {
			if err := os.Chown(s.pgDir, int(s.account.uid), int(s.account.gid)); err != nil {
				return fmt.Errorf("pgserver: give cluster dir to %s: %w", s.account.name, err)
			}
		}
		args := []string{"-D", s.pgDir, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=" + locale}
		if fast {
			args = append(args, "--no-sync")
		}
		cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"), args...)
		cmd.Dir = s.dataDir // our own working directory may be closed to the account
		cmd.SysProcAttr = s.sysProcAttr()
		began := time.Now()
		out, err := cmd.CombinedOutput()
		if err == nil {
			s.log.Info("pgserver: initdb done", "data", s.pgDir, "locale", locale, "took", time.Since(began))
			return nil
		}
		s.log.Warn("pgserver: initdb failed", "locale", locale, "err", err)
		errs = append(errs, fmt.Errorf("initdb --locale=%s: %w\n%s", locale, err, lastLines(string(out), 20)))
	}
	return fmt.Errorf("pgserver: %w", errors.Join(errs...))
}

// launch starts postgres as a child of a goroutine locked to its OS thread: Pdeathsig fires
// when the thread that forked the child exits, and a locked thread exits only with that
// goroutine, which lives as long as postgres does.
func (s *Server) launch(o Options, pdeathsig bool) error {
	logPath := filepath.Join(s.dataDir, logName)
	_ = os.Rename(logPath, logPath+".1") // keep the previous run's log; it may not exist
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("pgserver: open log: %w", err)
	}
	defer logFile.Close() // postgres has its own descriptor once started

	listen := ""
	if o.Port > 0 {
		listen = "127.0.0.1"
	}
	args := []string{
		"-D", s.pgDir,
		"-k", s.sockDir,
		"-c", "port=" + strconv.Itoa(s.port),
		"-c", "listen_addresses=" + listen,
	}
	if o.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), args...)
	cmd.Dir = s.dataDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = s.sysProcAttr()
	cmd.SysProcAttr.Setpgid = true
	if pdeathsig {
		setPdeathsig(cmd.SysProcAttr)
	}
	s.cmd = cmd

	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgserver: start postgres: %w", err)
	}
	owner := filepath.Join(s.dataDir, ownerFile)
	if err := os.WriteFile(owner, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		s.log.Warn("pgserver: cannot record owner; a later Start may not recover this server", "err", err)
	}
	return nil
}

// waitReady waits until postgres accepts a real connection, it exits, or startTimeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	connector, err := pq.NewConnector(s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	var lastErr error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := connector.Connect(cctx)
		ccancel()
		if err == nil {
			return conn.Close()
		}
		lastErr = err
		select {
		case <-s.done:
			return fmt.Errorf("pgserver: postgres exited during startup (%v); end of %s:\n%s",
				s.waitErr, filepath.Join(s.dataDir, logName), s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("pgserver: postgres not accepting connections (%v; last attempt: %v); end of %s:\n%s",
				ctx.Err(), lastErr, filepath.Join(s.dataDir, logName), s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logTail returns the last lines of the current run's log.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dataDir, logName))
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	return lastLines(string(b), 20)
}

func lastLines(text string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DSN returns a lib/pq connection string for database dbname as the superuser postgres over
// the unix socket. No password is needed: the cluster trusts local connections.
func (s *Server) DSN(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		quoteDSN(s.sockDir), s.port, superuser, quoteDSN(dbname))
}

var dsnEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

func quoteDSN(v string) string { return "'" + dsnEscaper.Replace(v) + "'" }

// EnsureDatabase creates database name unless it exists.
func (s *Server) EnsureDatabase(ctx context.Context, name string) error {
	db, err := sql.Open("postgres", s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	defer db.Close()
	var exists bool
	const q = `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`
	if err := db.QueryRowContext(ctx, q, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgserver: look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42P04" { // duplicate_database: created meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgserver: create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (a fast shutdown: sessions are ended, work in progress rolls back)
// and waits for it to exit. It escalates to an immediate shutdown after a minute and kills the
// server ten seconds later. It reports an error if the server had already died or had to be
// killed. Calling Stop again returns the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var err error
	select {
	case <-s.done:
		err = fmt.Errorf("pgserver: postgres had already exited (%v); end of log:\n%s", s.waitErr, s.logTail())
	default:
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		if !s.waitExit(time.Minute) {
			_ = s.cmd.Process.Signal(syscall.SIGQUIT)
			if !s.waitExit(10 * time.Second) {
				_ = s.cmd.Process.Kill()
				<-s.done
			}
			err = fmt.Errorf("pgserver: postgres ignored a fast shutdown (%v)", s.waitErr)
		} else if s.waitErr != nil {
			err = fmt.Errorf("pgserver: postgres shutdown: %v; end of log:\n%s", s.waitErr, s.logTail())
		}
	}
	_ = os.Remove(filepath.Join(s.dataDir, ownerFile)) // no server runs: nothing to own
	s.removeTempSocketDir()
	if err == nil {
		s.log.Info("pgserver: stopped", "data", s.pgDir)
	}
	return err
}

func (s *Server) waitExit(d time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-time.After(d):
		return false
	}
}

// kill ends postgres at once (an immediate shutdown, then SIGKILL) and waits for it.
func (s *Server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGQUIT) // fails only if it already exited
	if !s.waitExit(5 * time.Second) {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.removeTempSocketDir()
}
