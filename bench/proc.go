package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pgDataDir is DATA_DIR when the bench runs the embedded PostgreSQL (set by run).
var pgDataDir string

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// cpuTicks reads utime+stime of pid.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: fields start after ") ".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	// Fields from state (3rd of stat): utime is the 14th of stat, stime the 15th.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return u + s, nil
}

// rssKB reads VmRSS of pid in KiB.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// procWatch measures a process over a phase: CPU seconds used and the peak RSS sampled every
// 100 ms.
type procWatch struct {
	pid     int
	pgDir   string // DATA_DIR of the embedded cluster, for PostgreSQL's CPU; "" for none
	pg0     int64
	pgPIDs  []int
	start   time.Time
	ticks0  int64
	mu      sync.Mutex
	peakKB  int64
	stop    chan struct{}
	stopped chan struct{}
}

func watch(pid int) *procWatch {
	w := &procWatch{pid: pid, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	w.ticks0, _ = cpuTicks(pid)
	w.pgDir = pgDataDir
	if w.pgDir != "" {
		w.pgPIDs = pgPIDs(w.pgDir)
		w.pg0 = groupTicks(w.pgPIDs)
	}
	w.sample()
	go func() {
		defer close(w.stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *procWatch) sample() {
	if kb, err := rssKB(w.pid); err == nil {
		w.mu.Lock()
		if kb > w.peakKB {
			w.peakKB = kb
		}
		w.mu.Unlock()
	}
}

// procStats is what a phase cost the process.
type procStats struct {
	CPUPercent float64 // of one core: 200 means both cores of a 2-core machine
	PeakRSSMB  float64
	PGPercent  float64 // PostgreSQL's backends, same unit; -1 when unknown
}

func (w *procWatch) done() procStats {
	close(w.stop)
	<-w.stopped
	w.sample()
	ticks, _ := cpuTicks(w.pid)
	el := time.Since(w.start).Seconds()
	w.mu.Lock()
	defer w.mu.Unlock()
	st := procStats{
		CPUPercent: 100 * float64(ticks-w.ticks0) / clockTicks / el,
		PeakRSSMB:  float64(w.peakKB) / 1024,
		PGPercent:  -1,
	}
	if w.pgDir != "" {
		// Backends started during the phase are not in the list: the pools are warm by then.
		st.PGPercent = 100 * float64(groupTicks(w.pgPIDs)-w.pg0) / clockTicks / el
	}
	return st
}

// pgPIDs lists the postmaster of the embedded cluster (from postmaster.pid) and its children:
// the backends doing the queries. Nil when the database is not the embedded one.
func pgPIDs(dataDir string) []int {
	b, err := os.ReadFile(dataDir + "/postgres/pg/postmaster.pid")
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return nil
	}
	out := []int{pm}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(st[i+2:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pm) {
			out = append(out, pid)
		}
	}
	return out
}

// groupTicks sums the CPU ticks of pids (processes that ended since are skipped).
func groupTicks(pids []int) int64 {
	var n int64
	for _, p := range pids {
		if t, err := cpuTicks(p); err == nil {
			n += t
		}
	}
	return n
}
