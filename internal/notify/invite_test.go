package notify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/reminders"
)

// icsStarts decodes an iCalendar body with github.com/emersion/go-ical (a parser independent
// of the writer) and maps each event's UID to its SEQUENCE and DTSTART.
func icsStarts(t *testing.T, body []byte) map[string]string {
	t.Helper()
	cal, err := goical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("parse ics: %v\n%s", err, body)
	}
	out := map[string]string{}
	for _, ev := range cal.Events() {
		uid, _ := ev.Props.Text(goical.PropUID)
		start, err := ev.DateTimeStart(time.UTC)
		if err != nil {
			t.Fatalf("DTSTART of %s: %v", uid, err)
		}
		seq := ""
		if p := ev.Props.Get(goical.PropSequence); p != nil {
			seq = p.Value
		}
		out[uid] = seq + " " + start.Format(time.RFC3339)
	}
	return out
}

// The window-open reminder carries renewal.ics with the events the profile's calendar feed
// serves for that certification (same UIDs, SEQUENCE and dates); later reminders carry none.
func TestWindowOpenReminderCarriesTheFeedsEventsAsICS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("ics-ada", "en")
	f.earn(prof, admin, "2021-03-01") // expires 2022-03-01, the window opens 2021-09-01

	cal, err := calendar.NewService(postgres.Calendar{Store: f.store}, f.env.Clock, publicURL, notify.DefaultPlan().Dates)
	if err != nil {
		t.Fatal(err)
	}
	const token = "invite-test-token-0123456789"
	if _, err := f.env.DB.Exec(`INSERT INTO calendar_feeds (profile_id, token_hash, created_at) VALUES ($1, $2, now())`,
		prof, calendar.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	o, err := notify.NewOutbox(postgres.Notify{Store: f.store}, f.env.Clock, notify.OutboxConfig{
		Mailer: f.mail, PublicURL: publicURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Attach: reminders.InviteAttachment(cal),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.outbox = o

	f.at("2021-09-01")
	if res := f.pass(); res.Sent != 1 {
		t.Fatalf("got %+v, want 1 sent", res)
	}
	msgs := f.mail.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	atts := msgs[0].Attachments
	if len(atts) != 1 || atts[0].Name != "renewal.ics" || atts[0].ContentType != "text/calendar; charset=utf-8; method=PUBLISH" {
		t.Fatalf("got attachments %+v, want one renewal.ics (text/calendar; method=PUBLISH)", atts)
	}
	doc, err := cal.Serve(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	got, want := icsStarts(t, atts[0].Data), icsStarts(t, doc.Body)
	if len(want) < 3 || !sameMap(got, want) {
		t.Fatalf("attachment events:\n%v\nfeed events:\n%v", sorted(got), sorted(want))
	}
	if !bytes.Contains(atts[0].Data, []byte("METHOD:PUBLISH\r\n")) {
		t.Fatalf("attachment has no METHOD:PUBLISH:\n%s", atts[0].Data)
	}

	// The next reminder (90 days before expiry) carries no attachment.
	f.at("2021-12-01")
	if res := f.pass(); res.Sent != 1 {
		t.Fatalf("got %+v, want 1 sent", res)
	}
	if msgs := f.mail.messages(); len(msgs) != 2 || len(msgs[1].Attachments) != 0 {
		t.Fatalf("got %d messages, the second with %d attachments, want 2 and none", len(msgs), len(msgs[len(msgs)-1].Attachments))
	}
}

// A failing Attach hook never fails the reminder: it goes out without the attachment.
func TestFailingAttachSendsTheReminderWithoutIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("ics-grace", "en")
	f.earn(prof, admin, "2021-03-01")
	o, err := notify.NewOutbox(postgres.Notify{Store: f.store}, f.env.Clock, notify.OutboxConfig{
		Mailer: f.mail, PublicURL: publicURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Attach: func(context.Context, notify.Pending) ([]notify.Attachment, error) {
			return nil, errors.New("database gone")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.outbox = o
	f.at("2021-09-01")
	if res := f.pass(); res.Sent != 1 || res.Failed != 0 {
		t.Fatalf("got %+v, want 1 sent", res)
	}
	if msgs := f.mail.messages(); len(msgs) != 1 || len(msgs[0].Attachments) != 0 {
		t.Fatalf("got %+v, want one message without attachments", msgs)
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+" "+v)
	}
	sort.Strings(out)
	return out
}
