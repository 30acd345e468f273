package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// outboxHistory fills the outbox of one earned certification with a long history: 40 pending
// reminders (20 of them due at `at`), 40 cancelled ones and 19,920 sent ones.
func outboxHistory(t *testing.T, db *sqlx.DB) {
	t.Helper()
	account, _ := newAccount(t, db, "outbox")
	profile := newProfile(t, db, account, "Outbox Learner")
	var earned uuid.UUID
	if err := db.Get(&earned, `INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT $1, c.id, '2020-03-01', '2021-03-01', $2 FROM certifications c WHERE c.code = 'azure-administrator-associate' RETURNING id`,
		profile, at); err != nil {
		t.Fatal(err)
	}
	// Day d of the series, sequence s: d < 10 pending (due when d < 5), d < 20 cancelled, the rest sent.
	if _, err := db.Exec(`
INSERT INTO notifications (earned_certification_id, cycle_expires_on, sequence, kind, email, scheduled_for, created_at,
    next_attempt_at, sent_at, cancelled_at, cancel_reason)
SELECT $1, '2000-01-01'::date + d, s, 'RENEWAL_REMINDER', 'x@example.com', $2::timestamptz, $2::timestamptz,
    CASE WHEN d < 5 THEN $2::timestamptz - interval '1 hour' ELSE $2::timestamptz + interval '1 day' END,
    CASE WHEN d >= 20 THEN $2::timestamptz END,
    CASE WHEN d >= 10 AND d < 20 THEN $2::timestamptz END,
    CASE WHEN d >= 10 AND d < 20 THEN 'RENEWED' END
FROM generate_series(0, 4979) d, generate_series(1, 4) s`, earned, at); err != nil {
		t.Fatal(err)
	}
}

// The outbox gauges count reminders still to send: cancelled ones are not pending (they were
// counted before issue 11).
func TestOutboxStatsCountsOnlyPendingReminders(t *testing.T) {
	db := pgtest.New(t)
	outboxHistory(t, db)
	st, err := postgres.New(db).OutboxStats(t.Context(), at)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 40 || st.Due != 20 {
		t.Fatalf("got %d pending, %d due; want 40 and 20 (cancelled and sent reminders excluded)", st.Pending, st.Due)
	}
}

// Each /metrics scrape reads the outbox: its query must use the partial pending index, not scan
// the table's history, with the planner left free to choose (enable_seqscan untouched).
func TestOutboxStatsUsesThePendingIndex(t *testing.T) {
	db := pgtest.New(t)
	outboxHistory(t, db)
	if _, err := db.Exec(`ANALYZE notifications`); err != nil {
		t.Fatal(err)
	}
	var seqscan string
	if err := db.Get(&seqscan, `SHOW enable_seqscan`); err != nil || seqscan != "on" {
		t.Fatalf("enable_seqscan = %q (%v), want on", seqscan, err)
	}
	var lines []string
	if err := db.Select(&lines, `EXPLAIN `+postgres.OutboxStatsQuery, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if strings.Contains(plan, "Seq Scan on notifications") || !strings.Contains(plan, "notifications_pending_idx") {
		t.Fatalf("want a scan of notifications_pending_idx only, got plan:\n%s", plan)
	}
	t.Logf("plan over 20,000 reminders (40 pending):\n%s", plan)
}
