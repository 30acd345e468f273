package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/webhook"
)

// These tests show a webhook delivery's claim surviving the loss of the sender's database
// session (a failover, issue 15), as the reminder outbox's does (internal/notify/lease_test.go):
// what another sender sees between the endpoint's answer and the record of the outcome.

// dropSessions ends every session of the test's database that sits in an open transaction,
// as a failover ends them, and waits until they are gone (their locks with them). A claim
// that is a row lock held by an open transaction dies here; a committed lease does not.
func dropSessions(t *testing.T, env *apitest.Env) {
	t.Helper()
	env.DB.MustExec(`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`)
}

// sendAll runs sending passes of s until one handles nothing; it returns the deliveries.
func sendAll(t *testing.T, s *webhook.Sender) int {
	t.Helper()
	delivered := 0
	for {
		res := send(t, s)
		delivered += res.Delivered
		if res.Delivered+res.Failed == 0 {
			return delivered
		}
	}
}

// dueDelivery creates an endpoint on r for CERTIFICATION_EARNED and earns a certification:
// one delivery is due now.
func dueDelivery(t *testing.T, env *apitest.Env, r *receiver, sub string) {
	t.Helper()
	createEndpointFor(t, env, r.URL, "CERTIFICATION_EARNED")
	earnAZ103(t, env, newProfile(t, env, sub))
}

// deliveryRows counts the deliveries recorded as delivered and all of them.
func deliveryRows(t *testing.T, env *apitest.Env) (delivered, all int) {
	t.Helper()
	if err := env.DB.QueryRow(`SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL AND next_attempt_at IS NULL), count(*)
FROM webhook_deliveries`).Scan(&delivered, &all); err != nil {
		t.Fatal(err)
	}
	return delivered, all
}

// flakyRecordStore is the real store whose claims fail the first attempt to record a
// delivery, as when the database session is lost between the endpoint's answer and the
// record; onFail runs at that moment.
type flakyRecordStore struct {
	postgres.Webhook
	onFail func()
}

func (s flakyRecordStore) ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (webhook.Claim, error) {
	c, err := s.Webhook.ClaimDelivery(ctx, now, lease)
	if c == nil || err != nil {
		return c, err
	}
	return &flakyRecordClaim{Claim: c, onFail: s.onFail}, nil
}

type flakyRecordClaim struct {
	webhook.Claim
	onFail func()
	failed bool
}

func (c *flakyRecordClaim) MarkDelivered(ctx context.Context, at time.Time, status int) error {
	if !c.failed {
		c.failed = true
		c.onFail()
		return errors.New("commit: driver: bad connection")
	}
	return c.Claim.MarkDelivered(ctx, at, status)
}

// (a) The first sender's session is lost after the endpoint answered and its record failed:
// another sender's pass in that moment does not post the delivery (the lease holds), and the
// first sender records it as delivered on a fresh connection; nobody posts it afterwards.
// With the claim as a row lock in an open transaction, the second sender posted it again.
func TestWebhookLeaseHoldsWhenTheSendersSessionIsLost(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	r := newReceiver(t)
	dueDelivery(t, env, r, "lease-lost")
	b := sender(t, env)
	var duringOutage int
	store := flakyRecordStore{Webhook: postgres.Webhook{Store: env.Server.Store}, onFail: func() {
		dropSessions(t, env)
		duringOutage = sendAll(t, b)
	}}
	a, err := webhook.NewSender(store, env.Clock, webhook.SenderConfig{Client: webhook.NewClient(false)})
	if err != nil {
		t.Fatal(err)
	}
	if res := send(t, a); res.Delivered != 1 {
		t.Fatalf("first sender: got %+v, want 1 delivered and recorded", res)
	}
	if duringOutage != 0 {
		t.Fatalf("the other sender delivered %d while the first one's record was failing, want 0", duringOutage)
	}
	if delivered, all := deliveryRows(t, env); delivered != 1 || all != 1 {
		t.Fatalf("%d of %d deliveries recorded as delivered, want 1 of 1", delivered, all)
	}
	// Long after any lease, on both senders: nothing more is posted.
	env.Clock.Advance(24 * time.Hour)
	if n := sendAll(t, b) + sendAll(t, a); n != 0 {
		t.Fatalf("later passes delivered %d, want 0", n)
	}
	if n := len(r.deliveries()); n != 1 {
		t.Fatalf("the delivery was posted %d times, want once", n)
	}
}

// (b) A sender that dies after the endpoint got the request and never records it: other
// senders leave the delivery alone while its lease holds, and post it again exactly once
// after it expired, with the same webhook-id. With the claim as a row lock, the dead
// sender's delivery was due again at once.
func TestDeadSendersDeliveryIsPostedAgainOnlyAfterItsLease(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	r := newReceiver(t)
	dueDelivery(t, env, r, "lease-dead")
	claimedAt := env.Clock.Now()
	b := sender(t, env)
	var beforeExpiry, atTimeout, afterExpiry, later int
	// The endpoint has the first sender's request, and then that sender is gone for as long
	// as the other sender's passes below run: it records nothing meanwhile.
	r.onFirst = func() {
		dropSessions(t, env)
		beforeExpiry = sendAll(t, b)
		env.Clock.Set(claimedAt.Add(20 * time.Second)) // the request's timeouts: the lease is longer
		atTimeout = sendAll(t, b)
		env.Clock.Set(claimedAt.Add(time.Hour)) // far beyond any lease
		afterExpiry = sendAll(t, b)
		later = sendAll(t, sender(t, env))
	}
	if _, err := sender(t, env).Send(context.Background()); err != nil {
		t.Logf("the dead sender's pass: %v", err)
	}
	if beforeExpiry != 0 || atTimeout != 0 {
		t.Fatalf("another sender delivered %d right after the first sender died and %d at the request timeout, want 0 while the lease holds",
			beforeExpiry, atTimeout)
	}
	if afterExpiry != 1 || later != 0 {
		t.Fatalf("after the lease expired another sender delivered %d and a further pass %d, want exactly 1 and then 0", afterExpiry, later)
	}
	got := r.deliveries()
	if len(got) != 2 {
		t.Fatalf("the delivery was posted %d times, want 2 (the dead sender's and one resend)", len(got))
	}
	if got[0].ID != got[1].ID || got[0].ID == "" {
		t.Errorf("the resend has webhook-id %q, the first request %q: want the same", got[1].ID, got[0].ID)
	}
	if delivered, all := deliveryRows(t, env); delivered != 1 || all != 1 {
		t.Fatalf("%d of %d deliveries recorded as delivered, want 1 of 1", delivered, all)
	}
}

// (c) Several senders on several goroutines over many due deliveries to two endpoints: each
// is posted exactly once and all are recorded as delivered.
func TestConcurrentSendersDeliverEachDueDeliveryOnce(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	receivers := []*receiver{newReceiver(t), newReceiver(t)}
	for _, r := range receivers {
		createEndpointFor(t, env, r.URL, "CERTIFICATION_EARNED")
	}
	const events = 30
	env.DB.MustExec(`WITH ev AS (
  INSERT INTO webhook_events (type, occurred_at, data)
  SELECT 'CERTIFICATION_EARNED', $1, jsonb_build_object('n', g) FROM generate_series(1, $2::int) g
  RETURNING id, occurred_at)
INSERT INTO webhook_deliveries (event_id, endpoint_id, created_at, next_attempt_at)
SELECT ev.id, ep.id, ev.occurred_at, ev.occurred_at FROM ev, webhook_endpoints ep`, env.Clock.Now(), events)
	const senders, workers = 3, 3
	var wg sync.WaitGroup
	errs := make(chan error, senders*workers)
	for i := 0; i < senders; i++ {
		s := sender(t, env)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					res, err := s.Send(context.Background())
					if err != nil {
						errs <- err
						return
					}
					if res.Delivered+res.Failed == 0 {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A pass can stop early when the row it reached was just claimed by another: finish.
	sendAll(t, sender(t, env))
	for i, r := range receivers {
		perID := map[string]int{}
		for _, d := range r.deliveries() {
			perID[d.ID]++
		}
		if len(perID) != events || len(r.deliveries()) != events {
			t.Errorf("receiver %d got %d requests for %d events, want %d for %d", i, len(r.deliveries()), len(perID), events, events)
		}
		for id, n := range perID {
			if n != 1 {
				t.Errorf("receiver %d got %s %d times, want once", i, id, n)
			}
		}
	}
	if delivered, all := deliveryRows(t, env); delivered != 2*events || all != 2*events {
		t.Fatalf("%d of %d deliveries recorded as delivered, want %d of %d", delivered, all, 2*events, 2*events)
	}
}

// A claim's failure is recorded only while its lease is the claimer's (its token): after the
// lease ran out and another sender claimed the delivery, the first claimer's failure changes
// nothing (ErrLeaseLost), while its delivery is still recorded; giving up disables the
// endpoint with the failure, in one transaction.
func TestWebhookLeaseTokenGuardsTheOutcome(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	r := newReceiver(t)
	dueDelivery(t, env, r, "lease-token")
	ctx := context.Background()
	s := postgres.Webhook{Store: env.Server.Store}
	now := env.Clock.Now()
	later := now.Add(2 * time.Minute)
	first, err := s.ClaimDelivery(ctx, now, time.Minute)
	if err != nil || first == nil {
		t.Fatalf("claim: %v, %v", first, err)
	}
	if c, err := s.ClaimDelivery(ctx, now.Add(59*time.Second), time.Minute); c != nil || err != nil {
		t.Fatalf("second claim within the lease: got %v, %v; want none", c, err)
	}
	second, err := s.ClaimDelivery(ctx, later, time.Minute)
	if err != nil || second == nil || second.Pending().ID != first.Pending().ID {
		t.Fatalf("claim after the lease: got %v, %v; want the same delivery", second, err)
	}
	next := later.Add(time.Hour)
	if err := first.MarkFailed(ctx, later, nil, "x", nil, "given up"); !errors.Is(err, webhook.ErrLeaseLost) {
		t.Fatalf("failure recorded on a lost lease: got %v, want ErrLeaseLost", err)
	}
	status := 503
	if err := second.MarkFailed(ctx, later, &status, "503", &next, ""); err != nil {
		t.Fatalf("failure recorded by the lease's holder: %v", err)
	}
	if err := first.MarkDelivered(ctx, later, 200); err != nil {
		t.Fatalf("the first claimer's delivery: %v", err)
	}
	if delivered, all := deliveryRows(t, env); delivered != 1 || all != 1 {
		t.Fatalf("%d of %d deliveries recorded as delivered, want 1 of 1", delivered, all)
	}
	var disabled int
	if err := env.DB.Get(&disabled, `SELECT count(*) FROM webhook_endpoints WHERE disabled_at IS NOT NULL`); err != nil || disabled != 0 {
		t.Fatalf("%d endpoints disabled (%v), want 0: the lost lease's give-up must change nothing", disabled, err)
	}

	// Giving up, by the lease's holder, disables the endpoint with the delivery's failure.
	env.DB.MustExec(`UPDATE webhook_deliveries SET delivered_at = NULL, next_attempt_at = $1`, next)
	third, err := s.ClaimDelivery(ctx, next, time.Minute)
	if err != nil || third == nil {
		t.Fatalf("claim again: %v, %v", third, err)
	}
	if err := third.MarkFailed(ctx, next, nil, "timeout", nil, fmt.Sprintf("deliveries failed for %s", webhook.MaxRetryAge)); err != nil {
		t.Fatal(err)
	}
	var reason string
	if err := env.DB.Get(&reason, `SELECT e.disabled_reason FROM webhook_endpoints e
JOIN webhook_deliveries d ON d.endpoint_id = e.id WHERE d.failed_at IS NOT NULL AND d.next_attempt_at IS NULL`); err != nil || reason == "" {
		t.Fatalf("given-up delivery and disabled endpoint: %v", err)
	}
}
