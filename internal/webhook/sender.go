package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/safe"
)

// MaxRetryAge is how long a delivery is retried (issue 16: up to 3 days); the failure after it
// gives the delivery up and disables its endpoint.
const MaxRetryAge = 72 * time.Hour

// ExpiryLookback is how far back the expiry pass looks for expiry dates: a server down for
// less than this still announces every expiry once it is back.
const ExpiryLookback = 7 * 24 * time.Hour

// Pending is a claimed delivery with what its request needs.
type Pending struct {
	Delivery
	URL string
	// Secrets sign the delivery: the current secret, then the previous one during a rotation.
	Secrets []string
	// Data is the event's `data` object.
	Data json.RawMessage
}

// Claim is one due delivery leased by this sender (Store.ClaimDelivery). Each method records
// the outcome in a short transaction of its own and may be called again after an error (a
// lost connection). MarkDelivered records the delivery whatever lease holds the row, as long
// as it is neither delivered nor given up (the request was answered); MarkFailed records only
// while the lease is still this sender's, and returns ErrLeaseLost otherwise.
type Claim interface {
	Pending() Pending
	MarkDelivered(ctx context.Context, at time.Time, status int) error
	// MarkFailed records a failed attempt: retried at next, or, with next nil, given up, and
	// the endpoint disabled for disableReason.
	MarkFailed(ctx context.Context, at time.Time, status *int, lastError string, next *time.Time, disableReason string) error
}

// ErrLeaseLost reports that a claim's lease ran out and another sender claimed the delivery
// (or it was settled, or its endpoint deleted) before this sender recorded its outcome.
var ErrLeaseLost = errors.New("the delivery's lease ran out")

// Payload is the body of a delivery (Standard Webhooks: type, timestamp, data).
type Payload struct {
	Type      EventType       `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Body is the JSON body of p's delivery.
func (p Pending) Body() ([]byte, error) {
	return json.Marshal(Payload{Type: p.EventType, Timestamp: p.OccurredAt.UTC(), Data: p.Data})
}

// Backoff is the wait after the n-th failed attempt: 30 seconds doubled per attempt, at most
// 6 hours, with ±20% jitter so endpoints coming back are not hit by every sender at once.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 6*time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// SenderConfig configures a Sender.
type SenderConfig struct {
	// Client posts deliveries (NewClient); required.
	Client *http.Client
	// MaxPerPass bounds the deliveries of one pass (default 200).
	MaxPerPass int
	Log        *slog.Logger
}

// Sender runs the expiry pass and delivers due deliveries.
//
// Delivery is at-least-once with a lease, like the reminder outbox (notify.Outbox): a sender
// claims one due delivery in a short committed statement (FOR UPDATE SKIP LOCKED, then
// next_attempt_at pushed to the end of a lease of the request's timeouts + leaseMargin, which
// is also the claim's token), posts it with no transaction open, and records the outcome in a
// second short transaction: delivered, or failed with backoff (or given up). Recording a
// delivery is retried on fresh connections until it commits or the lease runs out, so a
// database failover between the endpoint's 2xx and the record posts nothing twice: the lease
// was committed before the request left and survives the failover, while no session does.
// While a lease holds, no other sender takes the delivery. It is posted again only when the
// sender dies (or cannot reach the database for the whole lease) after the endpoint answered
// and before the record committed: then it is due again when the lease ends and is posted
// once more, once, with the same `webhook-id`, which receivers use to drop duplicates.
type Sender struct {
	store  Store
	clock  clock.Clock
	client *http.Client
	max    int
	log    *slog.Logger
	// expiredOn is the day of this sender's last successful expiry pass: RunOnce runs it once a
	// day (and at start); the pass is insert-once, so instances need not agree on it.
	expiredOn date.Date
}

// NewSender returns a Sender on store.
func NewSender(store Store, clk clock.Clock, cfg SenderConfig) (*Sender, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("webhook: sender needs an HTTP client")
	}
	if cfg.MaxPerPass <= 0 {
		cfg.MaxPerPass = 200
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Sender{store: store, clock: clk, client: cfg.Client, max: cfg.MaxPerPass, log: cfg.Log}, nil
}

// PassResult counts what one pass did.
type PassResult struct {
	Expired, Delivered, Failed int
}

// Expire runs the expiry pass: set-based, insert-once per (earned certification, expiry
// date), so any number of instances may run it at once.
func (s *Sender) Expire(ctx context.Context) (int, error) {
	now := s.clock.Now()
	n, err := s.store.ExpirePass(ctx, now, date.Of(now))
	if err != nil {
		return 0, fmt.Errorf("webhook expiry pass: %w", err)
	}
	return n, nil
}

// leaseMargin is how much longer than the request's timeouts a claim's lease lasts: the time
// a delivery has to be recorded, retried on fresh connections through a database failover
// (docs/operations.md "Failover drill"), as for reminders.
const leaseMargin = 2 * time.Minute

// recordRetry is the pause between two tries of recording a delivery.
const recordRetry = 500 * time.Millisecond

// Send delivers due deliveries one claim at a time until none is due, MaxPerPass were
// handled, or ctx is done. A failed delivery is recorded, not an error of the pass.
func (s *Sender) Send(ctx context.Context) (PassResult, error) {
	var res PassResult
	for i := 0; i < s.max && ctx.Err() == nil; i++ {
		more, err := s.sendOne(ctx, &res)
		if err != nil || !more {
			return res, err
		}
	}
	return res, nil
}

// RunOnce runs the expiry pass, when this sender has not run it yet today (UTC), and a sending
// pass. It is not safe for concurrent use by several goroutines (Run calls it from one).
func (s *Sender) RunOnce(ctx context.Context) (PassResult, error) {
	var res PassResult
	if today := date.Of(s.clock.Now()); today != s.expiredOn {
		n, err := s.Expire(ctx)
		if err != nil {
			return PassResult{}, err
		}
		s.expiredOn = today
		res.Expired = n
	}
	sent, err := s.Send(ctx)
	sent.Expired = res.Expired
	return sent, err
}

// Pass runs RunOnce and logs what it did or why it failed; it reports whether the pass
// stopped at MaxPerPass (a backlog), for a loop that then runs the next one at once.
func (s *Sender) Pass(ctx context.Context) (backlog bool) {
	res, err := s.RunOnce(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error("webhook pass failed", "error", err)
		return false
	}
	if res != (PassResult{}) {
		s.log.Info("webhook pass", "expired", res.Expired, "delivered", res.Delivered, "failed", res.Failed)
	}
	return err == nil && res.Delivered+res.Failed >= s.max
}

// sendOne claims and posts one due delivery; it reports false when none was due.
func (s *Sender) sendOne(ctx context.Context, res *PassResult) (bool, error) {
	// Posting and recording outlive a shutdown that cancels ctx mid-request (a delivery that
	// was answered must be recorded), but not the lease: after it another sender may take it.
	lease := requestTimeout + dialTimeout + leaseMargin
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), lease)
	defer cancel()
	now := s.clock.Now()
	claim, err := s.store.ClaimDelivery(work, now, lease)
	if err != nil {
		return false, fmt.Errorf("claim webhook delivery: %w", err)
	}
	if claim == nil {
		return false, nil
	}
	p := claim.Pending()
	log := s.log.With("delivery", p.ID, "endpoint", p.EndpointID, "event", p.EventID)
	status, err := s.deliver(work, p, now)
	at := s.clock.Now()
	if err == nil {
		if err := s.recordDelivered(work, claim, at, status, log); err != nil {
			log.Error("webhook delivered but not recorded within its lease: it will be delivered again when the lease ends", "error", err)
			return false, fmt.Errorf("record webhook delivery: %w", err)
		}
		res.Delivered++
		return true, nil
	}
	var st *int
	if status != 0 {
		st = &status
	}
	msg := truncate(err.Error(), 1000)
	var next *time.Time
	reason := ""
	if at.Sub(p.CreatedAt) >= MaxRetryAge {
		reason = fmt.Sprintf("deliveries failed for %s (last: %s)", MaxRetryAge, msg)
	} else {
		n := at.Add(Backoff(p.Attempts + 1))
		if last := p.CreatedAt.Add(MaxRetryAge); n.After(last) {
			n = last // one last attempt when the 3 days are up
		}
		next = &n
	}
	if err := claim.MarkFailed(work, at, st, msg, next, reason); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			// Another sender has the delivery now: no error of this pass.
			log.Warn("record failed webhook delivery: the lease ran out, another sender has the delivery", "error", err)
			return true, nil
		}
		return false, fmt.Errorf("record failed webhook delivery: %w", err)
	}
	res.Failed++
	log.Warn("webhook delivery failed", "attempts", p.Attempts+1, "next_attempt_at", next, "disabled", next == nil, "error", msg)
	return true, nil
}

// recordDelivered records an answered delivery, trying again every half second (safe.Retry)
// until it is recorded or ctx (the lease) ends; each try is a transaction of its own on a
// connection from the pool, which reaches the new primary once there is one.
func (s *Sender) recordDelivered(ctx context.Context, claim Claim, at time.Time, status int, log *slog.Logger) error {
	return safe.Retry(ctx, log, "recording a webhook delivery", recordRetry, func() error { return claim.MarkDelivered(ctx, at, status) })
}

// deliver signs and posts one delivery; it returns the response status (0 when none).
func (s *Sender) deliver(ctx context.Context, p Pending, now time.Time) (status int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("delivery panicked: %v", r)
		}
	}()
	body, err := p.Body()
	if err != nil {
		return 0, err
	}
	msgID := p.MessageID()
	sig, err := SignatureHeader(p.Secrets, msgID, now, body)
	if err != nil {
		return 0, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Recert-Webhooks/1")
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	return post(ctx, s.client, p.URL, h, body)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
