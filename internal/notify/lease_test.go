package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
)

// These tests show the outbox's claim surviving the loss of the sender's database session
// (a failover, issue 15): what another sender sees between the moment an email left and the
// moment its outcome is recorded.

// hookMailer records what it sends and then runs after, once, before it returns: the moment
// the SMTP server has accepted the email and nothing is recorded yet.
type hookMailer struct {
	recorder
	once  sync.Once
	after func()
}

func (m *hookMailer) Send(ctx context.Context, msg notify.Message) error {
	if err := m.recorder.Send(ctx, msg); err != nil {
		return err
	}
	m.once.Do(m.after)
	return nil
}

// dropSessions ends every session of the test's database that sits in an open transaction,
// as a failover ends them, and waits until they are gone (their locks with them). A claim
// that is a row lock held by an open transaction dies here; a committed lease does not.
func (f *fixture) dropSessions() {
	f.t.Helper()
	if _, err := f.env.DB.Exec(`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`); err != nil {
		f.t.Fatal(err)
	}
}

// dueReminder gives a new learner sub a certification whose window-open reminder is due now
// (2021-09-01, 09:00) and written to the outbox; it returns the profile and the earned
// certification.
func (f *fixture) dueReminder(sub string) (prof, earned uuid.UUID) {
	f.t.Helper()
	prof, _ = f.profile(sub, "en")
	earned = f.earn(prof, admin, "2021-03-01")
	f.at("2021-09-01")
	if _, err := f.outbox.Schedule(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return prof, earned
}

// sendAll runs sending passes of o until one handles nothing.
func sendAll(t testing.TB, o *notify.Outbox) int {
	t.Helper()
	sent := 0
	for {
		res, err := o.Send(context.Background())
		if err != nil {
			t.Fatalf("send pass: %v", err)
		}
		sent += res.Sent
		if res.Sent+res.Failed+res.Cancelled == 0 {
			return sent
		}
	}
}

// flakyRecordStore is the real store whose claims fail the first attempt to record a sent
// email, as when the database session is lost between the SMTP server's acceptance and the
// record; onFail runs at that moment.
type flakyRecordStore struct {
	postgres.Notify
	onFail func()
}

func (s flakyRecordStore) ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (notify.Claim, error) {
	c, err := s.Notify.ClaimDue(ctx, now, lease)
	if c == nil || err != nil {
		return c, err
	}
	return &flakyRecordClaim{Claim: c, onFail: s.onFail}, nil
}

type flakyRecordClaim struct {
	notify.Claim
	onFail func()
	failed bool
}

func (c *flakyRecordClaim) MarkSent(ctx context.Context, at time.Time) error {
	if !c.failed {
		c.failed = true
		c.onFail()
		return errors.New("commit: driver: bad connection")
	}
	return c.Claim.MarkSent(ctx, at)
}

// (a) The first sender's session is lost after the email left and its record failed: another
// sender's pass in that moment does not send the reminder (the lease holds), and the first
// sender records it as sent on a fresh connection; nobody sends it afterwards.
// With the claim as a row lock in an open transaction, the second sender sent it again.
func TestLeaseHoldsWhenTheSendersSessionIsLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, earned := f.dueReminder("lease-lost")
	other := &recorder{}
	b := f.newOutbox(other)
	var duringOutage int
	store := flakyRecordStore{Notify: postgres.Notify{Store: f.store}, onFail: func() {
		f.dropSessions()
		duringOutage = sendAll(t, b)
	}}
	first := &recorder{}
	a, err := notify.NewOutbox(store, f.env.Clock, notify.OutboxConfig{
		Mailer: first, PublicURL: publicURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Send(context.Background())
	if err != nil || res.Sent != 1 {
		t.Fatalf("first sender: got %+v, %v; want 1 sent and recorded", res, err)
	}
	if duringOutage != 0 {
		t.Fatalf("the other sender sent %d emails while the first one's record was failing, want 0", duringOutage)
	}
	checkRows(t, f.rows(earned), []want{
		{cycle: "2022-03-01", seq: 1, kind: "RENEWAL_WINDOW_OPEN", due: "2021-09-01", sent: "2021-09-01"},
	})
	// Long after any lease, on both senders: nothing more goes out.
	f.at("2021-09-02")
	if n := sendAll(t, b) + sendAll(t, a); n != 0 {
		t.Fatalf("later passes sent %d emails, want 0", n)
	}
	if n := len(first.messages()) + len(other.messages()); n != 1 {
		t.Fatalf("the reminder went out %d times, want once", n)
	}
}

// (b) A sender that dies after the email left and never records it: other senders leave the
// reminder alone while its lease holds, and send it again exactly once after it expired.
// With the claim as a row lock, the dead sender's row was due again at once.
func TestDeadSendersReminderIsSentAgainOnlyAfterItsLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, earned := f.dueReminder("lease-dead")
	claimedAt := f.env.Clock.Now()
	other := &recorder{}
	b := f.newOutbox(other)
	var beforeExpiry, atTimeout, afterExpiry, later int
	// The first sender's mailer accepts the email, and then the sender is gone for as long
	// as the other sender's passes below run: it records nothing meanwhile.
	dead := &hookMailer{}
	dead.after = func() {
		f.dropSessions()
		beforeExpiry = sendAll(t, b)
		f.env.Clock.Set(claimedAt.Add(30 * time.Second)) // the send timeout: the lease is longer
		atTimeout = sendAll(t, b)
		f.env.Clock.Set(claimedAt.Add(time.Hour)) // far beyond any lease
		afterExpiry = sendAll(t, b)
		later = sendAll(t, f.newOutbox(other))
	}
	a := f.newOutbox(dead)
	if _, err := a.Send(context.Background()); err != nil {
		t.Logf("the dead sender's pass: %v", err)
	}
	if beforeExpiry != 0 || atTimeout != 0 {
		t.Fatalf("another sender sent %d emails right after the first sender died and %d at the send timeout, want 0 while the lease holds",
			beforeExpiry, atTimeout)
	}
	if afterExpiry != 1 || later != 0 {
		t.Fatalf("after the lease expired another sender sent %d emails and a further pass %d, want exactly 1 and then 0", afterExpiry, later)
	}
	if n := len(dead.messages()) + len(other.messages()); n != 2 {
		t.Fatalf("the reminder went out %d times, want 2 (the dead sender's and one resend)", n)
	}
	if a, b := dead.messages()[0].ID, other.messages()[0].ID; a != b {
		t.Errorf("the resend has Message ID %q, the first email %q: want the same", b, a)
	}
	rows := f.rows(earned)
	if len(rows) != 1 || rows[0].SentAt == nil {
		t.Fatalf("got %+v, want the reminder recorded as sent", rows)
	}
}

// (c) Several senders on several goroutines over many due reminders: each is sent exactly
// once and all are sent.
func TestConcurrentSendersSendEachDueReminderOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, q := range []string{
		`INSERT INTO accounts (issuer, subject, kind, created_at) VALUES ('t', 'many', 'PERSONAL', now())`,
		`INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
SELECT a.id, 'P' || g, 'p' || g || '@example.com', now() FROM accounts a, generate_series(1, 12) g WHERE a.subject = 'many'`,
		`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, '2021-03-01', '2022-03-01', now()
FROM certification_profiles p, certifications c
WHERE p.legal_name LIKE 'P%' AND c.code IN ('azure-administrator-associate', 'azure-developer-associate',
  'azure-security-engineer-associate', 'azure-data-engineer-associate', 'devops-engineer-expert')`,
	} {
		if _, err := f.env.DB.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	f.at("2021-09-01")
	n, err := f.outbox.Schedule(context.Background())
	if err != nil || n != 60 {
		t.Fatalf("scheduled %d, %v; want 60", n, err)
	}
	const senders, workers = 3, 3
	mails := make([]*recorder, senders)
	var wg sync.WaitGroup
	errs := make(chan error, senders*workers)
	for i := range mails {
		mails[i] = &recorder{}
		o := f.newOutbox(mails[i])
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					res, err := o.Send(context.Background())
					if err != nil {
						errs <- err
						return
					}
					if res.Sent+res.Failed+res.Cancelled == 0 {
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
	sendAll(t, f.outbox)
	perID := map[string]int{}
	total := len(f.mail.messages())
	for _, m := range f.mail.messages() {
		perID[m.ID]++
	}
	for _, r := range mails {
		for _, m := range r.messages() {
			perID[m.ID]++
			total++
		}
	}
	if len(perID) != 60 || total != 60 {
		t.Fatalf("got %d emails for %d reminders, want 60 for 60", total, len(perID))
	}
	for id, c := range perID {
		if c != 1 {
			t.Errorf("reminder %s: sent %d times, want once", id, c)
		}
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE sent_at IS NULL`); n != 0 {
		t.Fatalf("%d reminders not recorded as sent", n)
	}
	t.Logf("per sender: %d, %d, %d", len(mails[0].messages()), len(mails[1].messages()), len(mails[2].messages()))
}

// A claim's outcome is recorded only while its lease is the claimer's (its token): after the
// lease ran out and another sender claimed the row, the first claimer's failure or
// cancellation changes nothing (ErrLeaseLost), while its sent email is still recorded. The
// same holds for the verification emails of contact email changes.
func TestLeaseTokenGuardsTheOutcome(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, earned := f.dueReminder("lease-token")
	if _, err := f.env.DB.Exec(`WITH c AS (
  INSERT INTO contact_email_changes (profile_id, email, code_hash, requested_by, created_at, expires_at)
  VALUES ($1, 'new@example.com', decode(repeat('00', 32), 'hex'), 'test', $2, $2::timestamptz + interval '1 day')
  RETURNING id, created_at, expires_at)
INSERT INTO verification_emails (change_id, email, code, legal_name, expires_at, created_at, next_attempt_at)
SELECT id, 'new@example.com', '123456', 'Learner', expires_at, created_at, created_at FROM c`, prof, f.env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := postgres.Notify{Store: f.store}
	now := f.env.Clock.Now()
	later := now.Add(2 * time.Minute) // after the first lease

	first, err := s.ClaimDue(ctx, now, time.Minute)
	if err != nil || first == nil {
		t.Fatalf("claim: %v, %v", first, err)
	}
	if c, err := s.ClaimDue(ctx, now.Add(59*time.Second), time.Minute); c != nil || err != nil {
		t.Fatalf("second claim within the lease: got %v, %v; want none", c, err)
	}
	second, err := s.ClaimDue(ctx, later, time.Minute)
	if err != nil || second == nil || second.Pending().ID != first.Pending().ID {
		t.Fatalf("claim after the lease: got %v, %v; want the same reminder", second, err)
	}
	if err := first.MarkFailed(ctx, later, later.Add(time.Hour), "x"); !errors.Is(err, notify.ErrLeaseLost) {
		t.Fatalf("failure recorded on a lost lease: got %v, want ErrLeaseLost", err)
	}
	if err := first.Cancel(ctx, later, notify.CancelRenewed); !errors.Is(err, notify.ErrLeaseLost) {
		t.Fatalf("cancel on a lost lease: got %v, want ErrLeaseLost", err)
	}
	if err := second.MarkFailed(ctx, later, later.Add(time.Hour), "451 busy"); err != nil {
		t.Fatalf("failure recorded by the lease's holder: %v", err)
	}
	if err := first.MarkSent(ctx, later); err != nil {
		t.Fatalf("the first claimer's sent email: %v", err)
	}
	rows := f.rows(earned)
	if len(rows) != 1 || rows[0].SentAt == nil || rows[0].CancelReason != nil {
		t.Fatalf("got %+v, want the reminder recorded as sent, not cancelled", rows)
	}

	v1, err := s.ClaimVerification(ctx, now, time.Minute)
	if err != nil || v1 == nil {
		t.Fatalf("claim verification email: %v, %v", v1, err)
	}
	if c, err := s.ClaimVerification(ctx, now.Add(59*time.Second), time.Minute); c != nil || err != nil {
		t.Fatalf("second verification claim within the lease: got %v, %v; want none", c, err)
	}
	v2, err := s.ClaimVerification(ctx, later, time.Minute)
	if err != nil || v2 == nil {
		t.Fatalf("verification claim after the lease: %v, %v", v2, err)
	}
	if err := v1.Cancel(ctx, later); !errors.Is(err, notify.ErrLeaseLost) {
		t.Fatalf("verification cancel on a lost lease: got %v, want ErrLeaseLost", err)
	}
	if err := v2.MarkSent(ctx, later); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM verification_emails WHERE sent_at IS NOT NULL AND code IS NULL AND cancelled_at IS NULL`); n != 1 {
		t.Fatalf("got %d verification emails recorded as sent with the code forgotten, want 1", n)
	}
}
