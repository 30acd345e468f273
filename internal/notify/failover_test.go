package notify_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
)

func TestReminderWhoseClaimLostItsConnectionIsNotSentAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("failover", "en")
	earned := f.earn(prof, admin, "2021-03-01") // the window opens 2021-09-01
	f.at("2021-09-01")
	mail := &recorder{}
	o, err := notify.NewOutbox(flakyRecordStore{Notify: postgres.Notify{Store: f.store}, onFail: func() {}}, f.env.Clock, notify.OutboxConfig{
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
