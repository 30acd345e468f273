package notify_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/notify/mailer"
	"github.com/recert/recert/internal/notify/smtptest"
	"github.com/recert/recert/internal/postgres"
)

func (f *fixture) smtpOutbox(srv *smtptest.Server) *notify.Outbox {
	f.t.Helper()
	m, err := mailer.NewSMTP(srv.URL(), "Recert <no-reply@recert.example>", mailer.WithTLSConfig(srv.ClientTLS))
	if err != nil {
		f.t.Fatal(err)
	}
	o, err := notify.NewOutbox(postgres.Notify{Store: f.store}, f.env.Clock, notify.OutboxConfig{
		Mailer: m, PublicURL: publicURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

// Reminders go through a real SMTP server (STARTTLS, authenticated) to the profile's contact
// email, in its preferred language, naming the certification, the deadline and the link.
func TestRemindersOverSMTPInTheProfilesLanguage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := smtptest.Start(t)
	f.outbox = f.smtpOutbox(srv)
	ja, _ := f.profile("hanako", "ja-JP")
	en, _ := f.profile("ada", "en")
	f.earn(ja, admin, "2021-03-01")
	f.earn(en, "azure-developer-associate", "2021-03-01")

	f.at("2021-09-01")
	if res := f.pass(); res.Sent != 2 {
		t.Fatalf("got %+v, want 2 sent", res)
	}
	f.at("2021-12-01")
	if res := f.pass(); res.Sent != 2 {
		t.Fatalf("got %+v, want 2 sent", res)
	}
	mails := srv.Mails()
	if len(mails) != 4 {
		t.Fatalf("got %d emails at the server, want 4", len(mails))
	}
	byRcpt := map[string][]smtptest.Decoded{}
	for _, m := range mails {
		if !m.TLS || m.User != smtptest.Username || m.From != "no-reply@recert.example" || len(m.To) != 1 {
			t.Fatalf("got session TLS %v user %q from %s to %v, want STARTTLS, authenticated, one recipient", m.TLS, m.User, m.From, m.To)
		}
		byRcpt[m.To[0]] = append(byRcpt[m.To[0]], smtptest.Decode(t, m.Data))
	}
	jaMails, enMails := byRcpt["hanako@example.com"], byRcpt["ada@example.com"]
	if len(jaMails) != 2 || len(enMails) != 2 {
		t.Fatalf("got %d emails to hanako and %d to ada, want 2 each", len(jaMails), len(enMails))
	}
	check := func(d smtptest.Decoded, lang string, subject, body []string) {
		t.Helper()
		if got := d.Header.Get("Content-Language"); got != lang {
			t.Errorf("got Content-Language %q, want %q", got, lang)
		}
		for _, s := range subject {
			if !strings.Contains(d.Subject, s) {
				t.Errorf("subject %q: want it to contain %q", d.Subject, s)
			}
		}
		for _, s := range body {
			if !strings.Contains(d.Body, s) {
				t.Errorf("body:\n%s\nwant it to contain %q", d.Body, s)
			}
		}
	}
	adminName := "Microsoft Certified: Azure Administrator Associate"
	devName := "Microsoft Certified: Azure Developer Associate"
	check(jaMails[0], "ja", []string{"【更新期間開始】", adminName},
		[]string{"Learner hanako 様", "更新期間が始まりました", "有効期限は 2022年3月1日 です", "あと 181 日",
			publicURL + "/certifications/" + admin + "/renew"})
	check(jaMails[1], "ja", []string{"【リマインダー】", adminName, "2022年3月1日"},
		[]string{"有効期限が近づいています", "あと 90 日"})
	check(enMails[0], "en", []string{"Your renewal window is open", devName},
		[]string{"Hello Learner ada", "now open", "It expires on 1 March 2022", publicURL + "/certifications/azure-developer-associate/renew"})
	check(enMails[1], "en", []string{"Reminder: renew " + devName + " before 1 March 2022"},
		[]string{"expires soon", "(90 days from today)"})
}

// A failing SMTP server: the reminder stays in the outbox, each attempt is counted and the
// next waits for the backoff; once the server recovers it is delivered exactly once.
func TestFailingSMTPIsRetriedWithBackoffNotLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := smtptest.Start(t)
	f.outbox = f.smtpOutbox(srv)
	prof, _ := f.profile("retry", "en")
	earned := f.earn(prof, admin, "2021-03-01")
	srv.Fail()
	f.at("2021-09-01")
	start := f.env.Clock.Now()

	steps := []struct {
		advance  time.Duration // before the pass
		attempts int           // delivery attempts after it
		tries    int           // messages offered to the server so far
		next     time.Duration // next attempt, from start
	}{
		{0, 1, 1, time.Minute},
		{30 * time.Second, 1, 1, time.Minute}, // before the backoff: not retried
		{30 * time.Second, 2, 2, 3 * time.Minute},
		{2 * time.Minute, 3, 3, 7 * time.Minute},
		{3 * time.Minute, 3, 3, 7 * time.Minute}, // 6 minutes in: still waiting
		{time.Minute, 4, 4, 15 * time.Minute},
	}
	for i, s := range steps {
		f.env.Clock.Advance(s.advance)
		f.pass()
		rs := f.rows(earned)
		if len(rs) != 1 {
			t.Fatalf("step %d: got %d notifications, want 1", i, len(rs))
		}
		r := rs[0]
		if r.SentAt != nil || r.Attempts != s.attempts || srv.Tries() != s.tries || !r.NextAttempt.Equal(start.Add(s.next)) ||
			r.LastError == nil || !strings.Contains(*r.LastError, "451") {
			t.Fatalf("step %d: got sent %v attempts %d tries %d next %s error %v; want unsent, %d attempts, %d tries, next %s, the 451 recorded",
				i, r.SentAt, r.Attempts, srv.Tries(), r.NextAttempt, r.LastError, s.attempts, s.tries, start.Add(s.next))
		}
	}
	srv.Recover()
	f.env.Clock.Set(start.Add(15 * time.Minute))
	if res := f.pass(); res.Sent != 1 {
		t.Fatalf("got %+v, want the reminder sent once the server recovered", res)
	}
	f.env.Clock.Advance(time.Hour)
	f.pass()
	rs := f.rows(earned)
	if len(srv.Mails()) != 1 || len(rs) != 1 || rs[0].SentAt == nil || rs[0].Attempts != 5 {
		t.Fatalf("got %d emails, rows %+v; want exactly 1 email, sent after 5 attempts", len(srv.Mails()), rs)
	}
}

// A reminder that cannot be delivered before the cycle expires is dropped then, not retried
// forever (none after expiry).
func TestUndeliverableReminderStopsAtExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("bounce", "en")
	earned := f.earn(prof, admin, "2021-03-01")
	f.mail.setFailing(true)
	f.at("2022-02-22")
	f.pass()
	f.at("2022-03-01")
	if res := f.pass(); res.Cancelled != 1 {
		t.Fatalf("got %+v, want the reminder cancelled at expiry", res)
	}
	rs := f.rows(earned)
	if len(rs) != 1 || rs[0].CancelReason == nil || *rs[0].CancelReason != "EXPIRED" {
		t.Fatalf("got %+v, want one reminder cancelled as EXPIRED", rs)
	}
}
