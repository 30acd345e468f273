package notify_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// slowMailer takes a while to deliver, like a slow SMTP server.
type slowMailer struct {
	recorder
	delay time.Duration
}

func (m *slowMailer) Send(ctx context.Context, msg notify.Message) error {
	select {
	case <-time.After(m.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return m.recorder.Send(ctx, msg)
}

// The server's per-connection database timeouts (DB_STATEMENT_TIMEOUT, DB_IDLE_IN_TX_TIMEOUT)
// are shorter here than a scheduling pass and a slow delivery: the pass still completes, and
// an email that took longer than them to send is still recorded as sent (no transaction is
// open while it is sent: the claim is a committed lease). The pass outlasts the statement timeout on
// any machine (a trigger sleeps longer than it), and the delivery outlasts the idle timeout;
// the timeouts themselves leave ordinary statements ample time on a busy machine. Only the
// worker's connections carry them: the test checks with its own.
func TestWorkerOutlivesTheConnectionTimeouts(t *testing.T) {
	t.Parallel()
	setup, dsn := pgtest.NewWithDSN(t)
	dsn, err := postgres.WithParams(dsn, map[string]string{
		"statement_timeout": "1000", "idle_in_transaction_session_timeout": "1000", "lock_timeout": "1000",
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// 10 profiles with 60 certifications each expiring in the window: 600 reminders, written
	// by one statement that a trigger holds for longer than the statement timeout.
	for _, q := range []string{
		`INSERT INTO accounts (issuer, subject, kind, created_at) VALUES ('t', 'slow', 'PERSONAL', now())`,
		`INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
SELECT a.id, 'P' || g, 'p' || g || '@example.com', now() FROM accounts a, generate_series(1, 10) g`,
		`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, '2021-03-01', '2022-03-01', now()
FROM certification_profiles p, certifications c, generate_series(1, 4) g
WHERE c.code IN ('azure-administrator-associate', 'azure-developer-associate', 'azure-security-engineer-associate',
                 'azure-data-engineer-associate', 'azure-ai-engineer-associate', 'azure-data-scientist-associate',
                 'messaging-administrator-associate', 'security-administrator-associate', 'azure-solutions-architect-expert',
                 'devops-engineer-expert', 'dynamics-365-sales-functional-consultant-associate',
                 'dynamics-365-marketing-functional-consultant-associate', 'modern-desktop-administrator-associate',
                 'enterprise-administrator-expert', 'dynamics-365-finance-functional-consultant-associate')`,
		`CREATE FUNCTION slow_pass() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$`,
		`CREATE TRIGGER slow_pass AFTER INSERT ON notifications FOR EACH STATEMENT EXECUTE FUNCTION slow_pass()`,
	} {
		if _, err := setup.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	m := &slowMailer{delay: 1500 * time.Millisecond}
	clk := clock.NewSettable(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC))
	o, err := notify.NewOutbox(postgres.Notify{Store: postgres.New(db)}, clk, notify.OutboxConfig{
		Mailer: m, PublicURL: publicURL, MaxPerPass: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := o.Schedule(context.Background())
	if err != nil || n != 600 {
		t.Fatalf("got %d written, %v; want 600 (took %s)", n, err, time.Since(start))
	}
	res, err := o.Send(context.Background())
	if err != nil || res.Sent != 2 {
		t.Fatalf("got %+v, %v; want 2 sent and recorded", res, err)
	}
	// setup, not db: the check must not run under the timeouts injected into the worker.
	var sent int
	if err := setup.Get(&sent, `SELECT count(*) FROM notifications WHERE sent_at IS NOT NULL`); err != nil || sent != 2 {
		t.Fatalf("got %d recorded as sent (%v), want 2", sent, err)
	}
}
