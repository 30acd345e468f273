package notify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/notify"
)

const admin = "azure-administrator-associate"

// A whole cycle, one pass a day: exactly the 4 reminders, each on its day, then nothing.
func TestWholeCycleSendsFourRemindersOnTheirDays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("cycle", "en")
	earned := f.earn(prof, admin, "2021-03-01") // expires 2022-03-01

	f.days("2021-03-01", "2022-03-10")

	checkRows(t, f.rows(earned), []want{
		{cycle: "2022-03-01", seq: 1, kind: "RENEWAL_WINDOW_OPEN", due: "2021-09-01", sent: "2021-09-01"},
		{cycle: "2022-03-01", seq: 2, kind: "RENEWAL_REMINDER", due: "2021-12-01", sent: "2021-12-01"},
		{cycle: "2022-03-01", seq: 3, kind: "RENEWAL_REMINDER", due: "2022-01-30", sent: "2022-01-30"},
		{cycle: "2022-03-01", seq: 4, kind: "RENEWAL_REMINDER", due: "2022-02-22", sent: "2022-02-22"},
	})
	msgs := f.mail.messages()
	if len(msgs) != 4 {
		t.Fatalf("got %d emails, want 4", len(msgs))
	}
	for i, m := range msgs {
		if m.To != "cycle@example.com" || !strings.Contains(m.Subject, "Azure Administrator Associate") ||
			!strings.Contains(m.Text, "1 March 2022") || !strings.Contains(m.Text, publicURL+"/certifications/"+admin+"/renew") {
			t.Errorf("email %d: got to %s subject %q body %q, want the certification, its deadline and the renewal link", i+1, m.To, m.Subject, m.Text)
		}
	}
	if !strings.Contains(msgs[0].Subject, "window is open") || strings.Contains(msgs[1].Subject, "window is open") {
		t.Errorf("got subjects %q and %q, want only the first to say the window is open", msgs[0].Subject, msgs[1].Subject)
	}
	if q, s := f.metric("recert_reminders_queued_total", ""), f.metric("recert_reminders_sent_total", ""); q != 4 || s != 4 {
		t.Errorf("got metrics queued %v sent %v, want 4 and 4", q, s)
	}
}

// A renewal between reminders 2 and 3 stops 3 and 4; the next cycle starts again at 1 when
// its window opens, and nothing comes in between.
func TestRenewalStopsTheCycleAndTheNextStartsAtOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("renewer", "en")
	earned := f.earn(prof, admin, "2021-03-01") // expires 2022-03-01

	f.days("2021-08-30", "2021-12-15")
	f.renew(earned) // now expires 2023-03-01; its window opens 2022-09-01
	before := len(f.mail.messages())
	f.days("2021-12-16", "2022-08-31")
	if n := len(f.mail.messages()); n != before {
		t.Fatalf("got %d emails between the renewal and the next window, want none", n-before)
	}
	f.days("2022-09-01", "2022-09-03")

	checkRows(t, f.rows(earned), []want{
		{cycle: "2022-03-01", seq: 1, kind: "RENEWAL_WINDOW_OPEN", due: "2021-09-01", sent: "2021-09-01"},
		{cycle: "2022-03-01", seq: 2, kind: "RENEWAL_REMINDER", due: "2021-12-01", sent: "2021-12-01"},
		{cycle: "2023-03-01", seq: 1, kind: "RENEWAL_WINDOW_OPEN", due: "2022-09-01", sent: "2022-09-01"},
	})
}

// A reminder queued but not yet delivered when the certification is renewed is never sent.
func TestQueuedReminderIsDroppedAfterRenewal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("queued", "en")
	earned := f.earn(prof, admin, "2021-03-01")
	f.at("2021-09-01")
	f.pass()
	f.mail.setFailing(true)
	f.at("2021-12-01")
	if res := f.pass(); res.Queued != 1 || res.Failed != 1 {
		t.Fatalf("got %+v, want reminder 2 queued and its delivery failed", res)
	}
	f.renew(earned)
	f.mail.setFailing(false)
	f.at("2021-12-02")
	if res := f.pass(); res.Cancelled != 1 || res.Sent != 0 {
		t.Fatalf("got %+v, want the queued reminder cancelled, nothing sent", res)
	}
	rs := f.rows(earned)
	if len(rs) != 2 || rs[1].CancelReason == nil || *rs[1].CancelReason != "RENEWED" || rs[1].SentAt != nil {
		t.Fatalf("got %+v, want reminder 2 cancelled as RENEWED and unsent", rs)
	}
	if n := len(f.mail.messages()); n != 1 {
		t.Fatalf("got %d emails, want only the window-open one", n)
	}
	if c, fl := f.metric("recert_reminders_cancelled_total", "RENEWED"), f.metric("recert_reminders_failed_total", ""); c != 1 || fl != 1 {
		t.Fatalf("got metrics cancelled{RENEWED} %v failed %v, want 1 and 1", c, fl)
	}
}

// Fundamentals, expired, superseded certifications and certifications with no renewal
// assessment never get a reminder; a renewable one in the same database does (the control).
func TestNoRemindersForFundamentalsExpiredOrUnrenewable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("none", "en")
	fundamentals := f.earn(prof, "azure-fundamentals", "2021-03-01")
	// A fundamentals record with an expiry date (bad data) still gets nothing.
	oddFundamentals := f.earn(prof, "azure-data-fundamentals", "2021-03-01")
	if _, err := f.env.DB.Exec(`UPDATE earned_certifications SET expires_on = '2022-03-01' WHERE id = $1`, oddFundamentals); err != nil {
		t.Fatal(err)
	}
	expired := f.earn(prof, "azure-developer-associate", "2020-02-15") // expired 2021-02-15
	if _, err := f.env.DB.Exec(`
INSERT INTO certifications (code, name, level, released_on, languages, updated_at)
VALUES ('no-renewal-associate', 'Example Associate without renewal', 'ASSOCIATE', '2019-01-01', '{en}', now())`); err != nil {
		t.Fatal(err)
	}
	noAssessment := f.earn(prof, "no-renewal-associate", "2021-03-01")
	// Two records of one certification, as a merge leaves them: one current, one SUPERSEDED.
	survivor := f.earn(prof, "azure-security-engineer-associate", "2021-03-01")
	superseded := f.insertEarned(prof, "azure-security-engineer-associate", "2021-03-01")
	if _, err := f.env.DB.Exec(`UPDATE earned_certifications SET superseded_at = $2, superseded_by = $3 WHERE id = $1`,
		superseded, time.Date(2021, 3, 2, 0, 0, 0, 0, time.UTC), survivor); err != nil {
		t.Fatal(err)
	}
	control := f.earn(prof, admin, "2021-03-01")

	f.days("2021-03-01", "2022-03-05")

	for name, id := range map[string]uuid.UUID{"fundamentals": fundamentals, "fundamentals with an expiry": oddFundamentals,
		"expired": expired, "no renewal assessment": noAssessment, "superseded": superseded} {
		if rs := f.rows(id); len(rs) != 0 {
			t.Errorf("%s: got %d notifications, want none", name, len(rs))
		}
	}
	if n := len(f.rows(control)); n != 4 {
		t.Fatalf("control: got %d notifications, want 4", n)
	}
	if n := len(f.rows(survivor)); n != 4 {
		t.Fatalf("the current record of the superseded one: got %d notifications, want 4", n)
	}
}

// After downtime past several due dates, one pass writes and sends only the latest due
// reminder, and the cycle still ends with at most 4.
func TestCatchUpAfterDowntimeSendsOnlyTheLatest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("downtime", "en")
	earned := f.earn(prof, admin, "2021-03-01")
	f.at("2021-08-01")
	f.pass()
	f.at("2022-02-01") // window (2021-09-01), 90 days (2021-12-01) and 30 days (2022-01-30) all passed
	if res := f.pass(); res.Queued != 1 || res.Sent != 1 {
		t.Fatalf("got %+v, want exactly one reminder queued and sent", res)
	}
	if res := f.pass(); res != (notify.PassResult{}) {
		t.Fatalf("second pass the same day: got %+v, want nothing", res)
	}
	f.days("2022-02-02", "2022-03-05")
	checkRows(t, f.rows(earned), []want{
		{cycle: "2022-03-01", seq: 3, kind: "RENEWAL_REMINDER", due: "2022-01-30", sent: "2022-02-01"},
		{cycle: "2022-03-01", seq: 4, kind: "RENEWAL_REMINDER", due: "2022-02-22", sent: "2022-02-22"},
	})
}

// Mail down while a later reminder becomes due: the older queued one is dropped, only the
// latest goes out when mail is back.
func TestSenderDropsAnOlderQueuedReminderOfTheCycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("backlog", "en")
	earned := f.earn(prof, admin, "2021-03-01")
	f.mail.setFailing(true)
	f.at("2021-12-01")
	f.pass() // queues reminder 2, fails to deliver
	f.at("2022-01-30")
	f.pass() // queues reminder 3 (2 is replaced: cancelled), 3 fails to deliver
	f.mail.setFailing(false)
	f.at("2022-01-31")
	f.pass()
	rs := f.rows(earned)
	if len(rs) != 2 || rs[0].Sequence != 2 || rs[0].SentAt != nil || rs[0].CancelReason == nil || *rs[0].CancelReason != "REPLACED" ||
		rs[1].Sequence != 3 || rs[1].SentAt == nil {
		t.Fatalf("got %+v, want reminder 2 replaced and unsent, reminder 3 sent", rs)
	}
	if n := len(f.mail.messages()); n != 1 {
		t.Fatalf("got %d emails, want 1", n)
	}
}

// Two schedulers and two senders (separate outboxes, as on two instances) racing on one
// database over a whole cycle: every notification is sent exactly once, and never more than
// 4 per cycle.
func TestConcurrentSchedulersAndSendersSendEachOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	codes := []string{admin, "azure-developer-associate", "azure-security-engineer-associate", "devops-engineer-expert",
		"azure-data-engineer-associate"}
	var earned []uuid.UUID
	for i := 0; i < 12; i++ {
		prof, _ := f.profile("racer"+string(rune('a'+i)), []string{"en", "ja"}[i%2])
		for j, c := range codes {
			on := date.MustParse("2021-03-01").AddDays(i + 3*j) // spread the due dates
			earned = append(earned, f.earn(prof, c, on.String()))
		}
	}
	mails := []*recorder{{}, {}}
	outboxes := []*notify.Outbox{f.newOutbox(mails[0]), f.newOutbox(mails[1])}
	// Days on which reminders become due for many of them at once, and one quiet day.
	days := []string{"2021-09-20", "2021-12-20", "2022-02-10", "2022-02-25", "2022-03-20"}
	for _, day := range days {
		f.at(day)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 2; i++ {
			o := outboxes[i]
			wg.Add(2)
			go func() {
				defer wg.Done()
				for k := 0; k < 3; k++ {
					if _, err := o.Schedule(context.Background()); err != nil {
						errs <- err
					}
				}
			}()
			go func() {
				defer wg.Done()
				for k := 0; k < 3; k++ {
					if _, err := o.Send(context.Background()); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("%s: %v", day, err)
		}
		// Drain what was scheduled after the last send of the race.
		if _, err := outboxes[0].Send(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	perID := map[string]int{}
	for _, m := range append(mails[0].messages(), mails[1].messages()...) {
		perID[m.ID]++
	}
	var ids []string
	if err := f.env.DB.Select(&ids, `SELECT id::text FROM notifications WHERE sent_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 || len(perID) != len(ids) {
		t.Fatalf("got %d notifications emailed and %d recorded as sent, want the same (and some)", len(perID), len(ids))
	}
	for _, id := range ids {
		if perID[id] != 1 {
			t.Errorf("notification %s: got %d emails, want exactly 1", id, perID[id])
		}
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE sent_at IS NULL AND cancelled_at IS NULL`); n != 0 {
		t.Fatalf("got %d notifications left unsent, want 0", n)
	}
	if n := f.count(`SELECT count(*) FROM (SELECT 1 FROM notifications GROUP BY earned_certification_id, cycle_expires_on
HAVING count(*) > 4) x`); n != 0 {
		t.Fatalf("got %d cycles with more than 4 reminders, want 0", n)
	}
	// Every cycle got its reminders on these days: 5 days, the last one after expiry for most.
	if got := len(ids); got < len(earned)*3 {
		t.Fatalf("got %d reminders sent for %d certifications, want at least 3 each", got, len(earned))
	}
	t.Logf("%d reminders for %d certifications; instance A sent %d, instance B %d",
		len(ids), len(earned), len(mails[0].messages()), len(mails[1].messages()))
}
