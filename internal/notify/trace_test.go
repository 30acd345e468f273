package notify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
)

type spanKey struct{}

// spanRecorder is a Tracer that records each span as its path from the root ("a/b") and the
// error it ended with.
type spanRecorder struct {
	mu    sync.Mutex
	ended []string
	errs  map[string]error
}

func (r *spanRecorder) start(ctx context.Context, name string) (context.Context, func(error)) {
	path := name
	if parent, ok := ctx.Value(spanKey{}).(string); ok {
		path = parent + "/" + name
	}
	return context.WithValue(ctx, spanKey{}, path), func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ended = append(r.ended, path)
		if err != nil {
			r.errs[path] = err
		}
	}
}

// ctxMailer records the span the email was sent in.
type ctxMailer struct{ spans []string }

func (m *ctxMailer) Send(ctx context.Context, _ Message) error {
	s, _ := ctx.Value(spanKey{}).(string)
	m.spans = append(m.spans, s)
	return nil
}

// With a Tracer, a pass is a span, and each send (claim, email, record) a span under it in
// which the mailer runs; a failing pass ends its span with the error.
func TestPassAndSendsRunInSpans(t *testing.T) {
	exp := date.MustParse("2022-03-01")
	c := &fakeClaim{p: Pending{Notification: Notification{ID: uuid.New(), CycleExpiresOn: exp, Sequence: 1,
		Kind: KindWindowOpen, Email: "a@example.com"}, CurrentExpiresOn: &exp, CertificationCode: "x"}}
	rec := &spanRecorder{errs: map[string]error{}}
	m := &ctxMailer{}
	o, err := NewOutbox(&fakeStore{claims: []*fakeClaim{c}}, clock.NewSettable(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)),
		OutboxConfig{Mailer: m, PublicURL: "https://recert.example", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Trace: rec.start})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"reminders.pass/outbox.send verification", // none due
		"reminders.pass/outbox.send reminder",     // c
		"reminders.pass/outbox.send reminder",     // none due
		"reminders.pass",
	}
	if len(rec.ended) != len(want) {
		t.Fatalf("got spans %q, want %q", rec.ended, want)
	}
	for i := range want {
		if rec.ended[i] != want[i] {
			t.Fatalf("got spans %q, want %q", rec.ended, want)
		}
	}
	if len(m.spans) != 1 || m.spans[0] != "reminders.pass/outbox.send reminder" || !c.sent {
		t.Fatalf("mailer ran in spans %q (sent %v), want once in the send span", m.spans, c.sent)
	}

	failing := &failingStore{}
	rec = &spanRecorder{errs: map[string]error{}}
	o, err = NewOutbox(failing, clock.NewSettable(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)),
		OutboxConfig{Mailer: m, PublicURL: "https://recert.example", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Trace: rec.start})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunOnce(context.Background()); !errors.Is(err, errClaim) {
		t.Fatalf("got %v, want the claim's error", err)
	}
	if !errors.Is(rec.errs["reminders.pass"], errClaim) || !errors.Is(rec.errs["reminders.pass/outbox.send verification"], errClaim) {
		t.Fatalf("span errors %v, want the claim's error on the send and the pass", rec.errs)
	}
}

var errClaim = errors.New("claim failed")

// failingStore fails to claim verification emails.
type failingStore struct{ fakeStore }

func (*failingStore) ClaimVerification(context.Context, time.Time, time.Duration) (VerificationClaim, error) {
	return nil, errClaim
}

// spanLog records each log line's message with the span it was written in.
type spanLog struct {
	slog.Handler
	mu    *sync.Mutex
	lines *[]string
}

func (h spanLog) Handle(ctx context.Context, r slog.Record) error {
	s, _ := ctx.Value(spanKey{}).(string)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.lines = append(*h.lines, r.Message+" @ "+s)
	return nil
}

func (h spanLog) WithAttrs([]slog.Attr) slog.Handler { return h }

type failMailer struct{}

func (failMailer) Send(context.Context, Message) error { return errors.New("mail server said no") }

// The worker's log lines are written with the context of the span they belong to (a send's
// under the pass's, the pass's own), so a handler that reads the span from the context (as
// internal/tracing's, which writes trace_id) sees it.
func TestWorkerLogLinesCarryTheirSpan(t *testing.T) {
	exp := date.MustParse("2022-03-01")
	c := &fakeClaim{p: Pending{Notification: Notification{ID: uuid.New(), CycleExpiresOn: exp, Sequence: 1,
		Kind: KindWindowOpen, Email: "a@example.com"}, CurrentExpiresOn: &exp, CertificationCode: "x"}}
	rec := &spanRecorder{errs: map[string]error{}}
	var lines []string
	log := slog.New(spanLog{Handler: slog.NewTextHandler(io.Discard, nil), mu: &sync.Mutex{}, lines: &lines})
	o, err := NewOutbox(&fakeStore{claims: []*fakeClaim{c}}, clock.NewSettable(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)),
		OutboxConfig{Mailer: failMailer{}, PublicURL: "https://recert.example", Log: log, Trace: rec.start})
	if err != nil {
		t.Fatal(err)
	}
	o.safePass(context.Background())
	want := []string{
		"reminder delivery failed @ reminders.pass/outbox.send reminder",
		"reminder pass @ reminders.pass",
	}
	if len(lines) != len(want) || lines[0] != want[0] || lines[1] != want[1] {
		t.Fatalf("got log lines %q, want %q", lines, want)
	}
	if n := len(rec.ended); n == 0 || rec.ended[n-1] != "reminders.pass" {
		t.Fatalf("got spans %q, want the pass's ended last", rec.ended)
	}
}
