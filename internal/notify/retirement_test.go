package notify_test

import (
	"testing"
)

// A certification retired on 2021-12-15 (issue 13): the reminders due on or before that day
// go out, none due after it is written, and one queued before it but still undelivered after
// it is cancelled as RETIRED.
func TestRetiredCertificationGetsNoReminders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, _ := f.profile("retiring", "en")
	earned := f.earn(prof, admin, "2021-03-01") // expires 2022-03-01: reminders 09-01, 12-01, 01-30, 02-22
	if _, err := f.env.DB.Exec(`UPDATE certifications SET retired_on = '2021-12-15' WHERE code = $1`, admin); err != nil {
		t.Fatal(err)
	}
	f.days("2021-03-01", "2022-03-10")
	checkRows(t, f.rows(earned), []want{
		{cycle: "2022-03-01", seq: 1, kind: "RENEWAL_WINDOW_OPEN", due: "2021-09-01", sent: "2021-09-01"},
		{cycle: "2022-03-01", seq: 2, kind: "RENEWAL_REMINDER", due: "2021-12-01", sent: "2021-12-01"},
	})

	// Queued on its due day while mail is down, still undelivered once the certification retired.
	other, _ := f.profile("queued-retired", "en")
	late := f.earn(other, "azure-developer-associate", "2021-03-01")
	if _, err := f.env.DB.Exec(`UPDATE certifications SET retired_on = '2021-09-01' WHERE code = 'azure-developer-associate'`); err != nil {
		t.Fatal(err)
	}
	f.mail.setFailing(true)
	f.at("2021-09-01")
	f.pass()
	f.mail.setFailing(false)
	f.at("2021-09-02")
	if res := f.pass(); res.Cancelled != 1 || res.Sent != 0 {
		t.Fatalf("got %+v, want the queued reminder cancelled, nothing sent", res)
	}
	rs := f.rows(late)
	if len(rs) != 1 || rs[0].CancelReason == nil || *rs[0].CancelReason != "RETIRED" || rs[0].SentAt != nil {
		t.Fatalf("got %+v, want the window-open reminder cancelled as RETIRED", rs)
	}
}
