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
}

func (w *procWatch) done() procStats {
	close(w.stop)
	<-w.stopped
	w.sample()
	ticks, _ := cpuTicks(w.pid)
	el := time.Since(w.start).Seconds()
	w.mu.Lock()
	defer w.mu.Unlock()
	return procStats{
		CPUPercent: 100 * float64(ticks-w.ticks0) / clockTicks / el,
		PeakRSSMB:  float64(w.peakKB) / 1024,
	}
}
