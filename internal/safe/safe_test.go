package safe

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func TestGoRecoversAndLogsAPanic(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	done := make(chan struct{})
	Go(log, "worker", func() {
		defer close(done)
		panic("boom")
	})
	<-done
	// The deferred log runs after close(done); Run's own result shows the recovery.
	if err := Run(log, "worker", func() { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v, want the panic as an error", err)
	}
	buf.mu.Lock()
	out := buf.b.String()
	buf.mu.Unlock()
	if !strings.Contains(out, `"goroutine":"worker"`) || !strings.Contains(out, `"panic":"boom"`) || !strings.Contains(out, "safe_test.go") {
		t.Fatalf("got log %s, want the panic, the goroutine name and the stack", out)
	}
	if err := Run(log, "calm", func() {}); err != nil {
		t.Fatalf("got %v for a function that returns, want nil", err)
	}
}

// Loop runs the next pass at once after a backlog, survives a panicking pass, and ends with ctx.
func TestLoopFollowsABacklogAndSurvivesAPanic(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	passes := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop(ctx, log, "test pass", time.Hour, func() bool {
			passes++
			if passes == 2 {
				cancel() // the loop now waits for ctx, not for the hour
				panic("boom")
			}
			return true // a backlog: the next pass runs at once
		})
	}()
	<-done
	buf.mu.Lock()
	out := buf.b.String()
	buf.mu.Unlock()
	if passes != 2 || !strings.Contains(out, "boom") {
		t.Fatalf("got %d passes, log %q; want 2 and the panic logged", passes, out)
	}
}
