package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/date"
)

func TestPlanDue(t *testing.T) {
	def := DefaultPlan()
	custom, err := ParsePlan("60d,14d")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		plan    Plan
		expires string
		today   string
		wantSeq int // 0: none due
		wantOn  string
	}{
		{"nothing before the window opens", def, "2022-03-01", "2021-08-31", 0, ""},
		{"window-open reminder on the day the window opens", def, "2022-03-01", "2021-09-01", 1, "2021-09-01"},
		{"still the first until 90 days before", def, "2022-03-01", "2021-11-30", 1, "2021-09-01"},
		{"90 days before expiry", def, "2022-03-01", "2021-12-01", 2, "2021-12-01"},
		{"30 days before expiry", def, "2022-03-01", "2022-01-30", 3, "2022-01-30"},
		{"7 days before expiry", def, "2022-03-01", "2022-02-22", 4, "2022-02-22"},
		{"last day before expiry is still the fourth", def, "2022-03-01", "2022-02-28", 4, "2022-02-22"},
		{"none from the expiry date on", def, "2022-03-01", "2022-03-01", 0, ""},
		{"none long after expiry", def, "2022-03-01", "2023-01-01", 0, ""},
		{"catch-up after downtime gives only the latest due", def, "2022-03-01", "2022-02-01", 3, "2022-01-30"},
		{"window of a 31 August expiry opens on the last day of February", def, "2021-08-31", "2021-02-28", 1, "2021-02-28"},
		{"and not the day before", def, "2021-08-31", "2021-02-27", 0, ""},
		{"leap year: 31 August 2024 opens on 29 February", def, "2024-08-31", "2024-02-29", 1, "2024-02-29"},
		{"90 days before a leap-day crossing", def, "2024-03-15", "2023-12-16", 2, "2023-12-16"},
		{"configured plan: first is 60 days before", custom, "2022-03-01", "2021-12-31", 1, "2021-12-31"},
		{"configured plan: second 14 days before", custom, "2022-03-01", "2022-02-15", 2, "2022-02-15"},
		{"configured plan: nothing at the window", custom, "2022-03-01", "2021-09-01", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := c.plan.Due(date.MustParse(c.expires), date.MustParse(c.today))
			if c.wantSeq == 0 {
				if ok {
					t.Fatalf("got reminder %d on %s, want none", r.Sequence, r.On)
				}
				return
			}
			if !ok || r.Sequence != c.wantSeq || r.On.String() != c.wantOn {
				t.Fatalf("got %v %d on %s, want sequence %d on %s", ok, r.Sequence, r.On, c.wantSeq, c.wantOn)
			}
			wantKind := KindReminder
			if c.wantSeq == 1 {
				wantKind = KindWindowOpen
			}
			if r.Kind != wantKind {
				t.Fatalf("got kind %s, want %s", r.Kind, wantKind)
			}
		})
	}
}

func TestPlanDates(t *testing.T) {
	got := DefaultPlan().Dates(date.MustParse("2022-03-01"))
	want := []string{"2021-09-01", "2021-12-01", "2022-01-30", "2022-02-22"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("reminder %d: got %s, want %s", i+1, got[i], want[i])
		}
	}
}

func TestPlanHorizonCoversEveryDueExpiry(t *testing.T) {
	// Every expiry with a reminder due on today must fall in (today, Horizon]: the scheduler
	// scans only that range.
	for _, spec := range []string{DefaultOffsets, "90d,30d", "180d"} {
		p, err := ParsePlan(spec)
		if err != nil {
			t.Fatal(err)
		}
		for today := date.MustParse("2023-01-01"); today.Before(date.MustParse("2025-01-01")); today = today.AddDays(1) {
			h := p.Horizon(today)
			for e := h.AddDays(1); e.Before(h.AddDays(40)); e = e.AddDays(1) {
				if _, ok := p.Due(e, today); ok {
					t.Fatalf("%s: expiry %s has a reminder due on %s beyond the horizon %s", spec, e, today, h)
				}
			}
		}
	}
}

func TestParsePlan(t *testing.T) {
	good := map[string]string{
		"window,90d,30d,7d":       "window,90d,30d,7d",
		" Window , 90D ,30d, 7d ": "window,90d,30d,7d",
		"window":                  "window",
		"180d,1d":                 "180d,1d",
	}
	for in, want := range good {
		p, err := ParsePlan(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePlan(%q): got %v, %v; want %s", in, p, err, want)
		}
	}
	bad := []string{"", "window,90d,30d,7d,1d", "90d,window", "30d,90d", "30d,30d", "0d", "181d", "90", "soon", "window,window"}
	for _, in := range bad {
		if _, err := ParsePlan(in); err == nil {
			t.Errorf("ParsePlan(%q): got no error, want one", in)
		}
	}
}

func TestBackoff(t *testing.T) {
	cases := []struct {
		attempts int
		want     time.Duration
	}{
		{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {9, 256 * time.Minute},
		{10, 6 * time.Hour}, {100, 6 * time.Hour}, {0, time.Minute},
	}
	for _, c := range cases {
		if got := Backoff(c.attempts); got != c.want {
			t.Errorf("Backoff(%d): got %s, want %s", c.attempts, got, c.want)
		}
	}
}

func TestPendingStale(t *testing.T) {
	cycle := date.MustParse("2022-03-01")
	renewed := date.MustParse("2023-03-01")
	retired := date.MustParse("2021-12-31")
	base := Pending{Notification: Notification{CycleExpiresOn: cycle, Sequence: 2}, CurrentExpiresOn: &cycle}
	with := func(f func(p *Pending)) Pending { p := base; f(&p); return p }
	cases := []struct {
		name  string
		p     Pending
		today string
		want  CancelReason // "" when it is to be sent
	}{
		{"current cycle before expiry is sent", base, "2021-12-01", ""},
		{"renewed since it was queued", with(func(p *Pending) { p.CurrentExpiresOn = &renewed }), "2021-12-02", CancelRenewed},
		{"expired before it could be delivered", base, "2022-03-01", CancelExpired},
		{"superseded by a merge", with(func(p *Pending) { p.Superseded = true }), "2021-12-01", CancelSuperseded},
		{"a later reminder of the cycle is queued", with(func(p *Pending) { p.LaterQueued = true }), "2022-01-30", CancelReplaced},
		{"sent on the certification's retirement date", with(func(p *Pending) { p.CertificationRetiredOn = &retired }), "2021-12-31", ""},
		{"retired the day before it could be delivered", with(func(p *Pending) { p.CertificationRetiredOn = &retired }), "2022-01-01", CancelRetired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, stale := c.p.Stale(date.MustParse(c.today))
			if stale != (c.want != "") || got != c.want {
				t.Fatalf("got %q (stale %v), want %q", got, stale, c.want)
			}
		})
	}
}

func TestRenderLanguages(t *testing.T) {
	r, err := newRenderer("https://recert.example/app/")
	if err != nil {
		t.Fatal(err)
	}
	lang := func(s string) *string { return &s }
	p := Pending{
		Notification: Notification{ID: uuid.New(), CycleExpiresOn: date.MustParse("2022-03-01"), Sequence: 1,
			Kind: KindWindowOpen, Email: "ada@example.com"},
		CertificationCode: "azure-administrator-associate",
		CertificationName: "Microsoft Certified: Azure Administrator Associate",
		LegalName:         "Ada Lovelace",
	}
	const link = "https://recert.example/app/certifications/azure-administrator-associate/renew"
	cases := []struct {
		name      string
		preferred *string
		kind      Kind
		wantLang  string
		subject   []string
		body      []string
	}{
		{"no preference is English", nil, KindWindowOpen, "en",
			[]string{"renewal window is open", p.CertificationName},
			[]string{"Hello Ada Lovelace", "now open", "1 March 2022", "(30 days from today)", link}},
		{"English reminder", lang("en-GB"), KindReminder, "en",
			[]string{"Reminder", "before 1 March 2022"},
			[]string{"expires soon", "1 March 2022", link}},
		{"Japanese window open", lang("ja"), KindWindowOpen, "ja",
			[]string{"更新期間開始", p.CertificationName},
			[]string{"Ada Lovelace 様", "更新期間が始まりました", "2022年3月1日", "あと 30 日", link}},
		{"Japanese region tag reminder", lang("ja-JP"), KindReminder, "ja",
			[]string{"リマインダー", "2022年3月1日"},
			[]string{"有効期限が近づいています", link}},
		{"a language without a template falls back to English", lang("fr"), KindReminder, "en",
			[]string{"Reminder"}, []string{"expires soon"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := p
			q.Language, q.Kind = c.preferred, c.kind
			m, err := r.message(q, date.MustParse("2022-01-30"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Language != c.wantLang || m.To != "ada@example.com" || m.ID != p.ID.String() {
				t.Fatalf("got language %s to %s id %s, want %s to ada@example.com id %s", m.Language, m.To, m.ID, c.wantLang, p.ID)
			}
			if strings.Contains(m.Subject, "\n") {
				t.Fatalf("got a multi-line subject %q", m.Subject)
			}
			for _, s := range c.subject {
				if !strings.Contains(m.Subject, s) {
					t.Errorf("subject %q: want it to contain %q", m.Subject, s)
				}
			}
			for _, s := range c.body {
				if !strings.Contains(m.Text, s) {
					t.Errorf("body:\n%s\nwant it to contain %q", m.Text, s)
				}
			}
		})
	}
	if _, err := newRenderer("recert.example"); err == nil {
		t.Fatal("a public URL without scheme: got no error, want one")
	}
}
