package notify_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
)

// The set-based SQL of a scheduling pass writes exactly what the pure rule Plan.Due says, for
// every expiry around a day (month ends, leap days included), for the default plan and a
// configured one.
func TestSchedulePassAgreesWithPlanDue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, spec := range []string{notify.DefaultOffsets, "60d,14d"} {
		plan, err := notify.ParsePlan(spec)
		if err != nil {
			t.Fatal(err)
		}
		o, err := notify.NewOutbox(postgres.Notify{Store: f.store}, f.env.Clock, notify.OutboxConfig{
			Plan: plan, Mailer: f.mail, PublicURL: publicURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, day := range []string{"2021-02-28", "2023-08-31", "2024-02-29", "2024-03-01", "2024-09-30"} {
			today := date.MustParse(day)
			prof, _ := f.profile("agree"+string(rune('a'+i))+spec[:1], "en")
			// One earned certification per expiry day from 3 days before today to 200 after.
			if _, err := f.env.DB.Exec(`
INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT $1, c.id, (d - interval '1 year')::date, d::date, now()
FROM certifications c, generate_series($2::date - 3, $2::date + 200, interval '1 day') d
WHERE c.code = $3`, prof, today, admin); err != nil {
				t.Fatal(err)
			}
			f.at(day)
			if _, err := o.Schedule(context.Background()); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				Expires  date.Date  `db:"expires_on"`
				Sequence *int       `db:"sequence"`
				Kind     *string    `db:"kind"`
				Due      *date.Date `db:"due"`
			}
			if err := f.env.DB.Select(&rows, `
SELECT e.expires_on, n.sequence, n.kind, (n.scheduled_for AT TIME ZONE 'UTC')::date AS due
FROM earned_certifications e LEFT JOIN notifications n ON n.earned_certification_id = e.id
WHERE e.profile_id = $1 ORDER BY e.expires_on, n.sequence`, prof); err != nil {
				t.Fatal(err)
			}
			if len(rows) != 204 {
				t.Fatalf("%s on %s: got %d rows, want 204 (one per expiry, at most one reminder each)", spec, day, len(rows))
			}
			due := 0
			for _, r := range rows {
				want, ok := plan.Due(r.Expires, today)
				if !ok {
					if r.Sequence != nil {
						t.Errorf("%s on %s, expiry %s: got reminder %d, want none", spec, day, r.Expires, *r.Sequence)
					}
					continue
				}
				due++
				if r.Sequence == nil || *r.Sequence != want.Sequence || *r.Kind != string(want.Kind) || *r.Due != want.On {
					t.Errorf("%s on %s, expiry %s: got %v %v %v, want %d %s %s", spec, day, r.Expires, deref(r.Sequence), deref(r.Kind), deref(r.Due), want.Sequence, want.Kind, want.On)
				}
			}
			if due == 0 {
				t.Fatalf("%s on %s: no expiry had a reminder due; the test checks nothing", spec, day)
			}
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
