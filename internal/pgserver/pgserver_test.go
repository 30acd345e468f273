package pgserver

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill test re-executes this test binary as a helper that starts a server on the data
// directory named by helperDataDir and waits to be killed.
const (
	helperDataDir   = "PGSERVER_TEST_HELPER_DATADIR"
	helperPdeathsig = "PGSERVER_TEST_HELPER_PDEATHSIG"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDataDir); dir != "" {
		os.Exit(runHelper(dir, os.Getenv(helperPdeathsig) == "1"))
	}
	os.Exit(m.Run())
}

func runHelper(dir string, pdeathsig bool) int {
	ctx := context.Background()
	s, err := start(ctx, Options{DataDir: dir, Fast: true}, defaultFinder, pdeathsig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	db, err := sql.Open("postgres", s.DSN("postgres"))
	if err == nil {
		_, err = db.ExecContext(ctx, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('written before the kill')`)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	fmt.Printf("READY %d\n", s.cmd.Process.Pid)
	time.Sleep(time.Hour) // until the test kills us
	return 0
}

func startTest(t *testing.T, o Options) *Server {
	t.Helper()
	o.Fast = true
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() }) // a second Stop is harmless
	return s
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestStartAnswersQueries(t *testing.T) {
	t.Parallel()
	began := time.Now()
	s := startTest(t, Options{DataDir: t.TempDir()})
	t.Logf("initdb + start: %v", time.Since(began))

	var got int
	if err := open(t, s.DSN("postgres")).QueryRow(`SELECT 1`).Scan(&got); err != nil {
		t.Fatalf("SELECT 1: %v", err)
	}
	if got != 1 {
		t.Fatalf("SELECT 1: got %d, want 1", got)
	}
	if err := s.EnsureDatabase(context.Background(), "app"); err != nil {
		t.Fatalf("EnsureDatabase: %v", err)
	}
	if err := s.EnsureDatabase(context.Background(), "app"); err != nil {
		t.Fatalf("EnsureDatabase again: %v", err)
	}
	if err := open(t, s.DSN("app")).Ping(); err != nil {
		t.Fatalf("ping app: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startTest(t, Options{DataDir: dir})
	db := open(t, s.DSN("postgres"))
	if _, err := db.Exec(`CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before restart')`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	if _, err := Start(context.Background(), Options{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Start on a running DataDir: got %v, want an in-use error", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	began := time.Now()
	s = startTest(t, Options{DataDir: dir})
	t.Logf("restart: %v", time.Since(began))
	var got string
	if err := open(t, s.DSN("postgres")).QueryRow(`SELECT v FROM kept`).Scan(&got); err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if got != "before restart" {
		t.Fatalf("after restart: got %q, want %q", got, "before restart")
	}
}

// TestRecoverAfterKill kills -9 a process running a server, then starts a server on the same
// data directory. With the parent-death signal postgres stops itself; without it (as on macOS)
// Start finds the orphan and stops it.
func TestRecoverAfterKill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		pdeathsig bool
	}{
		{"postgres stops when its parent dies", true},
		{"start stops an orphaned postgres", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			oldPID := runAndKillHelper(t, dir, tc.pdeathsig)
			pgDir, err := filepath.EvalSymlinks(filepath.Join(dir, "pg"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if processAlive(oldPID) && isPostgresIn(oldPID, pgDir) {
					_ = syscall.Kill(oldPID, syscall.SIGKILL) // the test failed; don't leak it
				}
			})
			if tc.pdeathsig {
				if !waitGone(context.Background(), 20*time.Second, func() bool { return !processAlive(oldPID) }) {
					t.Fatalf("postgres pid %d still runs 20s after its parent was killed", oldPID)
				}
			} else if !processAlive(oldPID) {
				t.Fatalf("postgres pid %d died with its parent; want it orphaned", oldPID)
			}

			s := startTest(t, Options{DataDir: dir})
			if processAlive(oldPID) {
				t.Fatalf("old postgres pid %d still runs after Start", oldPID)
			}
			var got string
			if err := open(t, s.DSN("postgres")).QueryRow(`SELECT v FROM kept`).Scan(&got); err != nil {
				t.Fatalf("read after recovery: %v", err)
			}
			if got != "written before the kill" {
				t.Fatalf("after recovery: got %q, want %q", got, "written before the kill")
			}
		})
	}
}

// runAndKillHelper starts a helper process that runs a server on dir, kills it with SIGKILL
// once the server is up, and returns the pid of the helper's postmaster.
func runAndKillHelper(t *testing.T, dir string, pdeathsig bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperDataDir+"="+dir, helperPdeathsig+"="+map[bool]string{true: "1", false: "0"}[pdeathsig])
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				line <- sc.Text()
				return
			}
		}
		close(line)
	}()
	var ready string
	select {
	case ready = <-line:
	case <-time.After(90 * time.Second):
	}
	_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup, no Stop
	_ = cmd.Wait()
	pid, err := strconv.Atoi(strings.TrimPrefix(ready, "READY "))
	if err != nil {
		t.Fatalf("helper never reported a running server; stderr:\n%s", stderr.String())
	}
	return pid
}

// TestStartRemovesPidFileOfRecycledPid leaves a postmaster.pid naming a live process that is
// not postgres, as after a reboot or in a new container; postgres alone would refuse to start.
func TestStartRemovesPidFileOfRecycledPid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startTest(t, Options{DataDir: dir})
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	// Run the impostor as the user postgres runs as, so postgres's own check sees it alive.
	sleep := exec.Command("sleep", "300")
	sleep.SysProcAttr = s.sysProcAttr()
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	pidFile := filepath.Join(dir, "pg", "postmaster.pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n%s\n", sleep.Process.Pid, s.pgDir)), 0o600); err != nil {
		t.Fatal(err)
	}

	s = startTest(t, Options{DataDir: dir})
	if err := open(t, s.DSN("postgres")).Ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if !processAlive(sleep.Process.Pid) {
		t.Fatalf("Start killed the unrelated process %d named by the stale pid file", sleep.Process.Pid)
	}
}

// TestLongDataDirUsesTempSocketAndTCP checks the socket fallback for a data directory too deep
// for a unix socket path, and the TCP listener on 127.0.0.1.
func TestLongDataDirUsesTempSocketAndTCP(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	port := freePort(t)
	s := startTest(t, Options{DataDir: dir, Port: port})
	if !s.tempSock || strings.HasPrefix(s.sockDir, dir) {
		t.Fatalf("socket dir: got %s, want a temporary dir outside %s", s.sockDir, dir)
	}
	if err := open(t, s.DSN("postgres")).Ping(); err != nil {
		t.Fatalf("ping over the socket: %v", err)
	}
	tcp := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port)
	if err := open(t, tcp).Ping(); err != nil {
		t.Fatalf("ping over TCP: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(s.sockDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary socket dir after Stop: got %v, want it removed", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestStartWithoutBinariesSaysHowToInstall(t *testing.T) {
	t.Parallel()
	nothing := finder{getenv: func(string) string { return "" }}
	_, err := start(context.Background(), Options{DataDir: t.TempDir(), BinDir: "/nonexistent/bin"}, nothing, true)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	for _, want := range []string{"/nonexistent/bin", "apt-get install postgresql", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestFindOrder(t *testing.T) {
	t.Parallel()
	real, err := defaultFinder.find("")
	if err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "PG_BIN" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name   string
		f      finder
		binDir string
		want   string
	}{
		{"BinDir first", finder{getenv: env("/nonexistent")}, real, real},
		{"PG_BIN when BinDir is unusable", finder{getenv: env(real)}, "/nonexistent", real},
		{"pg_config next", finder{getenv: env(""), pgConfigBindir: func() (string, error) { return real, nil }}, "", real},
		{"install locations last", finder{getenv: env(""), globs: []string{filepath.Join(filepath.Dir(filepath.Dir(real)), "*", "bin")}}, "", real},
	}
	for _, tc := range tests {
		got, err := tc.f.find(tc.binDir)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v, want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestCompareVersionsPicksHighest(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b string }{
		{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin"},
		{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"},
		{"/opt/homebrew/opt/postgresql/bin", "/opt/homebrew/opt/postgresql@14/bin"},
		{"/opt/homebrew/opt/postgresql@14/bin", "/opt/homebrew/opt/postgresql@17/bin"},
	}
	for _, tc := range tests {
		if got := compareVersions(tc.a, tc.b); got >= 0 {
			t.Errorf("compareVersions(%s, %s) = %d, want < 0", tc.a, tc.b, got)
		}
	}
}
