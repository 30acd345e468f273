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

// Retry calls try until it returns nil or ctx is done, pausing every (wall time: it waits for
// a database or a network, not for the domain clock) between tries. Each failed try is logged
// as a warning ("<what> failed: trying again"), and so is a success after failed tries; when
// ctx ends first it returns the last error.
func Retry(ctx context.Context, log *slog.Logger, what string, every time.Duration, try func() error) error {
	for tries := 1; ; tries++ {
		err := try()
		if err == nil {
			if tries > 1 {
				log.WarnContext(ctx, what+": done after failed tries", "tries", tries)
			}
			return nil
		}
		log.WarnContext(ctx, what+" failed: trying again", "try", tries, "error", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(every):
		}
	}
}
