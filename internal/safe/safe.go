// Package safe runs the goroutines the application starts so that a panic in one is logged
// with its stack and contained, instead of killing the process and every in-flight request.
package safe

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Go runs fn in a new goroutine. A panic in fn is recovered and logged as an error with its
// stack; the goroutine then ends. Use it for every goroutine the application starts (workers,
// listeners, background refreshes); a worker that must keep running loops around Run.
func Go(log *slog.Logger, name string, fn func()) {
	go func() { _ = Run(log, name, fn) }()
}

// Run calls fn and recovers a panic in it, logging it and returning it as an error.
func Run(log *slog.Logger, name string, fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in %s: %v", name, p)
			if log == nil {
				log = slog.Default()
			}
			log.LogAttrs(context.Background(), slog.LevelError, "panic in goroutine",
				slog.String("goroutine", name), slog.String("panic", fmt.Sprint(p)),
				slog.String("stack", string(debug.Stack())))
		}
	}()
	fn()
	return nil
}

// Loop runs pass right away and then every interval until ctx is done; a pass that reports a
// backlog is followed at once by the next. A panicking pass is recovered and logged (Run) and
// counts as no backlog: the next pass runs at the next interval.
func Loop(ctx context.Context, log *slog.Logger, name string, every time.Duration, pass func() (backlog bool)) {
	for {
		backlog := false
		_ = Run(log, name, func() { backlog = pass() })
		if backlog && ctx.Err() == nil {
			continue
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
