package safe

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
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
