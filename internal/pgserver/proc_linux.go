package pgserver

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// setPdeathsig asks the kernel to send SIGINT (a fast shutdown) to postgres when the thread
// that started it dies, so a Go process killed with SIGKILL does not leave a server behind.
// Go applies it after switching credentials, which would otherwise clear it.
func setPdeathsig(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGINT
}

// procStat returns the state letter and the parent pid from /proc/<pid>/stat.
func procStat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], ppid, true
}

// processAlive reports whether pid runs. A zombie counts as dead: in a container whose init
// does not reap, an orphaned postmaster stays a zombie forever.
func processAlive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != 'Z' && state != 'X'
}

// parentPID returns the parent of pid, if known.
func parentPID(pid int) (int, bool) {
	_, ppid, ok := procStat(pid)
	return ppid, ok
}

// isPostgresIn reports whether pid is a postgres process working in dataDir. The postmaster and
// its backends change into the data directory, so the cwd tells a recycled pid from our server.
func isPostgresIn(pid int, dataDir string) bool {
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		return false
	}
	return cwdIs(pid, dataDir)
}

func cwdIs(pid int, dir string) bool {
	cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
	return err == nil && cwd == dir
}

// postgresInDir lists live postgres processes working in dir: the postmaster and any backends
// that outlived it.
func postgresInDir(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if isPostgresIn(pid, dir) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
