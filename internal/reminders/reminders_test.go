package reminders_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/database"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres/pgtest"
	"github.com/recert/recert/internal/reminders"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func loadConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// passStore is a notify.Store that reports each scheduling pass.
type passStore struct{ passes chan struct{} }

func (s passStore) Schedule(context.Context, time.Time, date.Date, notify.Plan) (int, error) {
	s.passes <- struct{}{}
	return 0, nil
}
func (passStore) ClaimDue(context.Context, time.Time, time.Duration) (notify.Claim, error) {
	return nil, nil
}
func (passStore) ClaimVerification(context.Context, time.Time, time.Duration) (notify.VerificationClaim, error) {
	return nil, nil
}
func (passStore) NotificationsByProfile(context.Context, uuid.UUID, *notify.Cursor, int) ([]notify.Notification, bool, error) {
	return nil, false, nil
}
func (passStore) CountNotificationsByProfile(context.Context, uuid.UUID) (int, error) { return 0, nil }
func (passStore) NotificationsByIDs(context.Context, []uuid.UUID) ([]*notify.Notification, []error) {
	return nil, nil
}

// The worker's first pass runs right after start, not an interval later, and stop ends it.
func TestReminderWorkerStartsAtOnceAndStops(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"REMINDER_INTERVAL": "1h"})
	s := passStore{passes: make(chan struct{}, 1)}
	o, err := notify.NewOutbox(s, clock.Real{}, notify.OutboxConfig{Mailer: notifyNop{}, PublicURL: cfg.PublicURL, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stop := reminders.Start(context.Background(), cfg, quiet, o)
	select {
	case <-s.passes:
	case <-time.After(10 * time.Second):
		t.Fatal("no pass right after start")
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not end the worker")
	}
}

type notifyNop struct{}

func (notifyNop) Send(context.Context, notify.Message) error { return nil }

func TestReminderWorkerConfiguration(t *testing.T) {
	off := loadConfig(t, map[string]string{"REMINDER_INTERVAL": "0"})
	if o, err := reminders.Worker(off, quiet, nil, clock.Real{}, nil, nil); o != nil || err != nil {
		t.Fatalf("REMINDER_INTERVAL=0: got %v, %v; want no worker", o, err)
	}
	prod := loadConfig(t, map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://x", "AUTH_JWKS_URL": "https://k",
		"AUTH_ISSUER": "i", "AUTH_AUDIENCE": "a", "CREDENTIAL_SIGNING_KEY": credential.MustGenerateKeyPEM()})
	if _, err := reminders.Worker(prod, quiet, nil, clock.Real{}, nil, nil); err == nil {
		t.Fatal("production without SMTP_URL: got no error, want one (emails would only be logged)")
	}
	prod.SMTPURL = "smtp://user:pass@mail.example.com:587"
	if o, err := reminders.Worker(prod, quiet, nil, clock.Real{}, nil, nil); o == nil || err != nil {
		t.Fatalf("production with SMTP_URL: got %v, %v; want a worker", o, err)
	}
	prod.SMTPURL = "http://mail.example.com"
	if _, err := reminders.Worker(prod, quiet, nil, clock.Real{}, nil, nil); err == nil {
		t.Fatal("a bad SMTP_URL: got no error, want one")
	}
	loadOff := func() (database.Env, error) { return database.Env{Config: off, Log: quiet}, nil }
	if err := reminders.Command(context.Background(), []string{"run-twice"}, io.Discard, io.Discard, loadOff); err == nil {
		t.Fatal("reminders run-twice: got no error, want one")
	}
}

// `reminders run-once` schedules and sends the due reminders once (to the log in
// development) and exits.
func TestRemindersRunOnce(t *testing.T) {
	db, dsn := pgtest.NewWithDSN(t)
	today := date.Of(time.Now())
	if _, err := db.Exec(`INSERT INTO accounts (issuer, subject, kind, created_at) VALUES ('t', 'once', 'PERSONAL', now())`); err != nil {
		t.Fatal(err)
	}
	var earned uuid.UUID
	if err := db.Get(&earned, `
WITH p AS (INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
           SELECT id, 'Once', 'once@example.com', now() FROM accounts RETURNING id)
INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, $1, $2, now() FROM p, certifications c WHERE c.code = 'azure-administrator-associate'
RETURNING id`, today.AddDays(-300), today.AddDays(20)); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, map[string]string{"DATABASE_URL": dsn, "DATA_DIR": t.TempDir()})
	load := func() (database.Env, error) {
		return database.Env{Config: cfg, Log: quiet, Migrations: pgtest.Migrations(t)}, nil
	}
	if err := reminders.Command(context.Background(), []string{"run-once"}, io.Discard, io.Discard, load); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Sequence int        `db:"sequence"`
		SentAt   *time.Time `db:"sent_at"`
	}
	if err := db.Get(&got, `SELECT sequence, sent_at FROM notifications WHERE earned_certification_id = $1`, earned); err != nil {
		t.Fatalf("got no notification: %v", err)
	}
	if got.Sequence != 3 || got.SentAt == nil {
		t.Fatalf("got sequence %d sent %v, want the 30-day reminder (3) sent", got.Sequence, got.SentAt)
	}
}
