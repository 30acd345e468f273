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
// are far shorter here than a scheduling pass and a slow delivery: the pass still completes,
// and an email sent while the claim's transaction sat idle is still recorded as sent (were the
// session ended mid-send, it would go out again). This test waits on real time: the timeouts
// are PostgreSQL's.
func TestWorkerOutlivesTheConnectionTimeouts(t *testing.T) {
	t.Parallel()
	setup, dsn := pgtest.NewWithDSN(t)
	dsn, err := postgres.WithParams(dsn, map[string]string{
		"statement_timeout": "50", "idle_in_transaction_session_timeout": "200", "lock_timeout": "100",
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// 1,000 profiles with 60 certifications each expiring in the window: a pass that writes
	// 60,000 reminders takes far longer than 50ms.
	for _, q := range []string{
		`INSERT INTO accounts (issuer, subject, kind, created_at) VALUES ('t', 'slow', 'PERSONAL', now())`,
		`INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
SELECT a.id, 'P' || g, 'p' || g || '@example.com', now() FROM accounts a, generate_series(1, 1000) g`,
		`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, '2021-03-01', '2022-03-01', now()
FROM certification_profiles p, certifications c, generate_series(1, 4) g
WHERE c.code IN ('azure-administrator-associate', 'azure-developer-associate', 'azure-security-engineer-associate',
                 'azure-data-engineer-associate', 'azure-ai-engineer-associate', 'azure-data-scientist-associate',
                 'messaging-administrator-associate', 'security-administrator-associate', 'azure-solutions-architect-expert',
                 'devops-engineer-expert', 'dynamics-365-sales-functional-consultant-associate',
                 'dynamics-365-marketing-functional-consultant-associate', 'modern-desktop-administrator-associate',
                 'enterprise-administrator-expert', 'dynamics-365-finance-functional-consultant-associate')`,
	} {
		if _, err := setup.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	m := &slowMailer{delay: 600 * time.Millisecond}
	clk := clock.NewSettable(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC))
	o, err := notify.NewOutbox(postgres.Notifications{Store: postgres.New(db)}, clk, notify.OutboxConfig{
		Mailer: m, PublicURL: publicURL, MaxPerPass: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := o.Schedule(context.Background())
	if err != nil || n != 60000 {
		t.Fatalf("got %d written, %v; want 60000 (took %s)", n, err, time.Since(start))
	}
	res, err := o.Send(context.Background())
	if err != nil || res.Sent != 2 {
		t.Fatalf("got %+v, %v; want 2 sent and recorded", res, err)
	}
	var sent int
	if err := db.Get(&sent, `SELECT count(*) FROM notifications WHERE sent_at IS NOT NULL`); err != nil || sent != 2 {
		t.Fatalf("got %d recorded as sent (%v), want 2", sent, err)
	}
}
