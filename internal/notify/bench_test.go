package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/recert/recert/internal/date"
)

// BenchmarkSchedulePass times one scheduling pass over 1,000,000 earned certifications held by
// 1,000 profiles, expiries spread evenly over two years around the pass day (so about a quarter
// are within six months of expiry), fundamentals included. Run it once:
//
//	go test -run '^$' -bench BenchmarkSchedulePass -benchtime=1x ./internal/notify/
//
// first-pass: nothing written yet (a new deployment): every cycle whose reminder is due gets
// one row. same-day: the same pass again, nothing new to write (what every REMINDER_INTERVAL
// costs). next-day: the day after, one day's worth of reminders becomes due.
func BenchmarkSchedulePass(b *testing.B) {
	f := newFixture(b)
	owner, _ := f.profile("bench", "en")
	today := date.MustParse("2022-06-15")
	setup := time.Now()
	if _, err := f.env.DB.Exec(`
INSERT INTO certification_profiles (account_id, legal_name, email, preferred_language, created_at)
SELECT p.account_id, 'Bench ' || g, 'bench' || g || '@example.com', CASE WHEN g % 3 = 0 THEN 'ja' ELSE 'en' END, now()
FROM certification_profiles p, generate_series(1, 999) g WHERE p.id = $1`, owner); err != nil {
		b.Fatal(err)
	}
	if _, err := f.env.DB.Exec(`
WITH certs AS (SELECT array_agg(id ORDER BY code) AS ids, array_agg(level ORDER BY code) AS levels FROM certifications),
     profs AS (SELECT array_agg(id ORDER BY id) AS ids FROM certification_profiles)
INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT profs.ids[1 + g % 1000],
       certs.ids[1 + g % cardinality(certs.ids)],
       ($1::date - 365 + g % 730) - 365,
       CASE WHEN certs.levels[1 + g % cardinality(certs.ids)] = 'FUNDAMENTALS' THEN NULL
            ELSE $1::date - 365 + g % 730 END,
       now()
FROM certs, profs, generate_series(1, 1000000) g`, today); err != nil {
		b.Fatal(err)
	}
	if _, err := f.env.DB.Exec(`ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: 1,000,000 earned certifications in %s", time.Since(setup).Round(time.Millisecond))

	pass := func(b *testing.B, day date.Date) {
		f.env.Clock.Set(day.Time().Add(9 * time.Hour))
		var written int
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n, err := f.outbox.Schedule(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			written += n
		}
		b.StopTimer()
		b.ReportMetric(float64(written)/float64(b.N), "written/op")
	}
	b.Run("first-pass", func(b *testing.B) { pass(b, today) })
	b.Run("same-day", func(b *testing.B) { pass(b, today) })
	b.Run("next-day", func(b *testing.B) { pass(b, today.AddDays(1)) })
}
