package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
)

// lostCommitStore is the real store whose claims lose their connection when the sent email
// is recorded: the claim's transaction is rolled back and MarkSent fails, as when a database
// failover ends the session after the SMTP server accepted the email (ops/ha-drill).
type lostCommitStore struct{ postgres.Notify }

func (s lostCommitStore) ClaimDue(ctx context.Context, now time.Time, hold time.Duration) (notify.Claim, error) {
	c, err := s.Notify.ClaimDue(ctx, now, hold)
	if c == nil || err != nil {
		return c, err
	}
	return lostCommitClaim{c}, nil
}

type lostCommitClaim struct{ notify.Claim }

func (c lostCommitClaim) MarkSent(context.Context, time.Time) error {
	c.Claim.Release()
	return errors.New("commit: driver: bad connection")
}

func TestReminderWhoseClaimLostItsConnectionIsNotSentAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("failover", "en")
	earned := f.earn(prof, admin, "2021-03-01") // the window opens 2021-09-01
	f.at("2021-09-01")
	mail := &recorder{}
	o, err := notify.NewOutbox(lostCommitStore{postgres.Notify{Store: f.store}}, f.env.Clock, notify.OutboxConfig{
		Mailer: mail, PublicURL: publicURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.RunOnce(context.Background()); err != nil {
		t.Fatalf("pass with a lost commit: %v", err)
	}
	if n := len(mail.messages()); n != 1 {
		t.Fatalf("first pass sent %d emails, want 1", n)
	}
	// The next pass, on this instance or another, finds it recorded as sent.
	f.pass()
	if n := len(mail.messages()) + len(f.mail.messages()); n != 1 {
		t.Fatalf("the reminder went out %d times, want once", n)
	}
	checkRows(t, f.rows(earned), []want{
		{cycle: "2022-03-01", seq: 1, kind: "RENEWAL_WINDOW_OPEN", due: "2021-09-01", sent: "2021-09-01"},
	})
}
