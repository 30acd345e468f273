package notify

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
)

// fakeStore serves the worker tests without a database.
type fakeStore struct {
	mu         sync.Mutex
	schedules  int
	claims     []*fakeClaim
	scheduled  chan int // receives the number of each Schedule call
	panicFirst bool     // the first Schedule call panics
	drained    chan struct{}
}

func (s *fakeStore) Schedule(ctx context.Context, now time.Time, today date.Date, plan Plan) (int, error) {
	s.mu.Lock()
	s.schedules++
	n := s.schedules
	s.mu.Unlock()
	if s.scheduled != nil {
		s.scheduled <- n
	}
	if n == 1 && s.panicFirst {
		panic("boom in the first pass")
	}
	return 0, nil
}

func (s *fakeStore) ClaimDue(ctx context.Context, now time.Time, hold time.Duration) (Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.claims) == 0 {
		if s.drained != nil {
			close(s.drained)
			s.drained = nil
		}
		return nil, nil
	}
	c := s.claims[0]
	s.claims = s.claims[1:]
	return c, nil
}

func (s *fakeStore) ClaimVerification(context.Context, time.Time, time.Duration) (VerificationClaim, error) {
	return nil, nil
}

func (s *fakeStore) NotificationsByProfile(context.Context, uuid.UUID, *Cursor, int) ([]Notification, bool, error) {
	return nil, false, nil
}
func (s *fakeStore) CountNotificationsByProfile(context.Context, uuid.UUID) (int, error) {
	return 0, nil
}
func (s *fakeStore) NotificationsByIDs(context.Context, []uuid.UUID) ([]*Notification, []error) {
	return nil, nil
}

type fakeClaim struct {
	p                    Pending
	sent                 bool
	failedNext           time.Time
	failedMsg, cancelled string
}

func (c *fakeClaim) Pending() Pending { return c.p }
func (c *fakeClaim) MarkSent(context.Context, time.Time) error {
	c.sent = true
	return nil
}
func (c *fakeClaim) MarkFailed(_ context.Context, _, next time.Time, msg string) error {
	c.failedNext, c.failedMsg = next, msg
	return nil
}
func (c *fakeClaim) Cancel(_ context.Context, _ time.Time, r CancelReason) error {
	c.cancelled = string(r)
	return nil
}

type panicMailer struct{}

func (panicMailer) Send(context.Context, Message) error { panic("mailer exploded") }

func quietOutbox(t *testing.T, s Store, m Mailer, clk clock.Clock, reg prometheus.Registerer) *Outbox {
	t.Helper()
	var metrics *Metrics
	if reg != nil {
		metrics = NewMetrics(reg)
	}
	o, err := NewOutbox(s, clk, OutboxConfig{Mailer: m, PublicURL: "https://recert.example", MaxPerPass: 2,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A panicking pass is recovered and logged; the worker runs the next pass and stops when its
// context ends.
func TestRunSurvivesAPanickingPass(t *testing.T) {
	s := &fakeStore{scheduled: make(chan int), panicFirst: true}
	reg := prometheus.NewRegistry()
	o := quietOutbox(t, s, panicMailer{}, clock.NewSettable(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)), reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx, time.Millisecond) }()
	for want := 1; want <= 2; want++ {
		select {
		case n := <-s.scheduled:
			if n != want {
				t.Fatalf("got pass %d, want %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pass %d never ran: the worker died", want)
		}
	}
	cancel()
	go func() {
		for range s.scheduled { // let a pass in flight finish
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not stop when its context ended")
	}
	if got := counterValue(t, reg, "recert_reminder_passes_total", "panic"); got != 1 {
		t.Fatalf("got %v panicking passes counted, want 1", got)
	}
}

// A mailer that panics is a failed delivery: recorded with backoff, and the pass goes on.
func TestPanickingMailerIsAFailedDelivery(t *testing.T) {
	now := time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)
	exp := date.MustParse("2022-03-01")
	c := &fakeClaim{p: Pending{Notification: Notification{ID: uuid.New(), CycleExpiresOn: exp, Sequence: 1,
		Kind: KindWindowOpen, Email: "a@example.com", Attempts: 2}, CurrentExpiresOn: &exp, CertificationCode: "x"}}
	s := &fakeStore{claims: []*fakeClaim{c}}
	reg := prometheus.NewRegistry()
	o := quietOutbox(t, s, panicMailer{}, clock.NewSettable(now), reg)
	res, err := o.Send(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 || c.sent || !strings.Contains(c.failedMsg, "mailer exploded") ||
		!c.failedNext.Equal(now.Add(4*time.Minute)) {
		t.Fatalf("got %+v, claim %+v; want one failure recorded, retried after 4m (third attempt)", res, c)
	}
	if got := counterValue(t, reg, "recert_reminders_failed_total", ""); got != 1 {
		t.Fatalf("got %v failures counted, want 1", got)
	}
}

// counterValue reads a counter (with the given label value, if any) from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

type okMailer struct{}

func (okMailer) Send(context.Context, Message) error { return nil }

// A pass that stops at MaxPerPass leaves a backlog: the next pass starts at once instead of
// an interval later.
func TestRunDrainsABacklogWithoutWaiting(t *testing.T) {
	exp := date.MustParse("2022-03-01")
	s := &fakeStore{drained: make(chan struct{})}
	var claims []*fakeClaim
	for i := 0; i < 5; i++ {
		c := &fakeClaim{p: Pending{Notification: Notification{ID: uuid.New(), CycleExpiresOn: exp, Sequence: 1,
			Kind: KindWindowOpen, Email: "a@example.com"}, CurrentExpiresOn: &exp, CertificationCode: "x"}}
		claims = append(claims, c)
	}
	s.claims = append([]*fakeClaim(nil), claims...)
	drained := s.drained
	o := quietOutbox(t, s, okMailer{}, clock.NewSettable(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx, time.Hour) }()
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the backlog of 5 with 2 per pass was not drained without waiting an interval")
	}
	cancel()
	<-done
	for i, c := range claims {
		if !c.sent {
			t.Errorf("claim %d: got unsent, want sent", i)
		}
	}
	if s.schedules != 3 {
		t.Errorf("got %d passes, want 3 (2 + 2 + 1)", s.schedules)
	}
}
