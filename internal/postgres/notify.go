package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/notify"
)

var _ notify.Store = Notify{}

type notificationRow struct {
	ID             uuid.UUID  `db:"id"`
	EarnedID       uuid.UUID  `db:"earned_certification_id"`
	ProfileID      uuid.UUID  `db:"profile_id"`
	CycleExpiresOn date.Date  `db:"cycle_expires_on"`
	Sequence       int        `db:"sequence"`
	Kind           string     `db:"kind"`
	Email          string     `db:"email"`
	Language       *string    `db:"language"`
	ScheduledFor   time.Time  `db:"scheduled_for"`
	CreatedAt      time.Time  `db:"created_at"`
	SentAt         *time.Time `db:"sent_at"`
	Attempts       int        `db:"delivery_attempts"`
	NextAttemptAt  time.Time  `db:"next_attempt_at"`
	LastError      *string    `db:"last_error"`
	CancelledAt    *time.Time `db:"cancelled_at"`
	CancelReason   *string    `db:"cancel_reason"`
}

func (r notificationRow) domain() notify.Notification {
	n := notify.Notification{ID: r.ID, EarnedID: r.EarnedID, ProfileID: r.ProfileID, CycleExpiresOn: r.CycleExpiresOn,
		Sequence: r.Sequence, Kind: notify.Kind(r.Kind), Email: r.Email, Language: r.Language,
		ScheduledFor: r.ScheduledFor.UTC(), CreatedAt: r.CreatedAt.UTC(), SentAt: notifyUTC(r.SentAt),
		Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.UTC(), LastError: r.LastError,
		CancelledAt: notifyUTC(r.CancelledAt)}
	if r.CancelReason != nil {
		c := notify.CancelReason(*r.CancelReason)
		n.CancelReason = &c
	}
	return n
}

func notifyUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// notificationColumns lists notifications columns for queries aliasing notifications as n and
// its earned certification as e (whose profile_id is the current owner).
const notificationColumns = `n.id, n.earned_certification_id, e.profile_id, n.cycle_expires_on, n.sequence, n.kind,
       n.email, n.language, n.scheduled_for, n.created_at, n.sent_at, n.delivery_attempts,
       n.next_attempt_at, n.last_error, n.cancelled_at, n.cancel_reason`

// scheduleLockKey lets one scheduling pass run at a time ("recertNS"); an instance that finds
// another one's pass running skips its own (it would write nothing more). Passes in sequence
// always see the reminders earlier ones wrote, so two instances whose clocks straddle a due
// date cannot both write a reminder of one cycle. The unique key alone already rules out
// duplicates.
const scheduleLockKey int64 = 0x7265636572744e53

// notifyScheduleSQL writes, for every current renewable cycle, the latest reminder due on
// today, unless that or a later sequence of the cycle was written already. Parameters:
// $1 now, $2 today, $3 the latest expiry that can have a reminder due (the index range),
// $4 the plan's lead days per sequence (NULL: the day the window opens, $5 months before
// expiry, clamped to the month's end as PostgreSQL's date arithmetic does), $6 the kind per
// sequence. A certification is renewable when it expires, is not fundamentals, has a renewal
// assessment and has been on the market for $5 months (docs/domain.md "Renewal assessment");
// a reminder due after the certification's retirement date is not written.
// It reads earned certifications through earned_certifications_expiry_idx, never per row in Go.
// In the same statement, every window-open reminder written also writes its
// RENEWAL_WINDOW_OPENED webhook event (once per cycle by the dedupe key) and deliveries, and the
// statement returns how many reminders it wrote.
var notifyScheduleSQL = `
WITH ins AS (
INSERT INTO notifications (earned_certification_id, cycle_expires_on, sequence, kind, email, language,
                           scheduled_for, created_at, next_attempt_at)
SELECT e.id, e.expires_on, d.seq, ($6::text[])[d.seq], p.email, p.preferred_language,
       d.due_on::timestamp AT TIME ZONE 'UTC', $1, $1
FROM earned_certifications e
JOIN certifications c ON c.id = e.certification_id
JOIN certification_profiles p ON p.id = e.profile_id
CROSS JOIN LATERAL (
    SELECT s.seq, s.due_on
    FROM (SELECT o.seq::int AS seq,
                 CASE WHEN o.lead_days IS NULL
                      THEN (e.expires_on - make_interval(months => $5))::date
                      ELSE e.expires_on - o.lead_days END AS due_on
          FROM unnest($4::int[]) WITH ORDINALITY AS o (lead_days, seq)) s
    WHERE s.due_on <= $2
    ORDER BY s.seq DESC
    LIMIT 1
) d
WHERE e.superseded_at IS NULL
  AND e.expires_on IS NOT NULL
  AND e.expires_on > $2
  AND e.expires_on <= $3
  AND c.level <> 'FUNDAMENTALS'
  AND (c.retired_on IS NULL OR c.retired_on >= d.due_on)
  AND (c.released_on + make_interval(months => $5))::date <= $2
  AND p.status = 'ACTIVE'
  AND EXISTS (SELECT 1 FROM renewal_assessments a WHERE a.certification_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM notifications w
                  WHERE w.earned_certification_id = e.id
                    AND w.cycle_expires_on = e.expires_on
                    AND w.sequence >= d.seq)
ON CONFLICT ON CONSTRAINT notifications_cycle_sequence_key DO NOTHING
RETURNING earned_certification_id, cycle_expires_on, kind
), ev AS (
    INSERT INTO webhook_events (type, occurred_at, data, dedupe_key)
    SELECT 'RENEWAL_WINDOW_OPENED', $1, ` + webhookCertificationData + `,
           'RENEWAL_WINDOW_OPENED:' || e.id || ':' || ins.cycle_expires_on
    FROM ins
    JOIN earned_certifications e ON e.id = ins.earned_certification_id
    JOIN certifications c ON c.id = e.certification_id
    JOIN certification_profiles p ON p.id = e.profile_id
    WHERE ins.kind = 'RENEWAL_WINDOW_OPEN'
    ON CONFLICT ON CONSTRAINT webhook_events_dedupe_key DO NOTHING
    RETURNING id, type, occurred_at
), fan AS (` + webhookFanOutSQL + `)
SELECT count(*) FROM ins`

// Schedule runs one scheduling pass (notify.Store).
func (s Notify) Schedule(ctx context.Context, now time.Time, today date.Date, plan notify.Plan) (int, error) {
	offsets := plan.Offsets()
	leads := make([]sql.NullInt64, len(offsets))
	kinds := make([]string, len(offsets))
	for i, o := range offsets {
		if !o.Window {
			leads[i] = sql.NullInt64{Int64: int64(o.Days), Valid: true}
		}
		kinds[i] = string(notify.KindOf(i + 1))
	}
	var n int64
	err := s.InTx(ctx, func(tx *Store) error {
		// A scheduling pass is a batch job: the per-connection statement timeout (for API
		// requests, DB_STATEMENT_TIMEOUT) does not fit it.
		if _, err := tx.exec(ctx, `SET LOCAL statement_timeout = '10min'`); err != nil {
			return fmt.Errorf("scheduler timeout: %w", err)
		}
		var locked bool
		if err := tx.get(ctx, &locked, `SELECT pg_try_advisory_xact_lock($1)`, scheduleLockKey); err != nil {
			return fmt.Errorf("lock scheduler: %w", err)
		}
		if !locked {
			return nil // another instance is running this very pass
		}
		// The "already written?" probe must use notifications_cycle_sequence_key. While the
		// table's statistics still say it is empty (first deployment, or right after a big
		// pass, before autovacuum analyses it) the planner would rather scan it sequentially
		// per candidate, and the table grows under the scan as the statement inserts: a
		// pass over 1M certifications then took over 10 minutes instead of seconds.
		// Scoped to this transaction.
		if _, err := tx.exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return fmt.Errorf("plan scheduler: %w", err)
		}
		if err := tx.get(ctx, &n, notifyScheduleSQL, now, today, plan.Horizon(today),
			pq.Array(leads), catalog.RenewalLeadMonths, pq.Array(kinds)); err != nil {
			return fmt.Errorf("insert due reminders: %w", err)
		}
		return nil
	})
	return int(n), err
}

type notifyPendingRow struct {
	notificationRow
	CertificationCode string     `db:"certification_code"`
	CertificationName string     `db:"certification_name"`
	CertRetiredOn     *date.Date `db:"certification_retired_on"`
	LegalName         string     `db:"legal_name"`
	CurrentExpiresOn  *date.Date `db:"current_expires_on"`
	Superseded        bool       `db:"superseded"`
	LaterQueued       bool       `db:"later_queued"`
	LeaseUntil        time.Time  `db:"lease_until"`
}

// notifyClaimSQL leases the oldest due notification no other sender is claiming right now:
// it walks notifications_pending_idx in order, locks the first row it can (SKIP LOCKED; the
// inner query touches no other table, so it never sorts the backlog) and moves that row's
// next_attempt_at to $2, the end of the lease, which is also the lease's token. The statement
// commits on its own, so the lease outlives the sender's session (a database failover), and
// the row is not due for anyone until the lease ends. It returns what the email needs and
// the current state of the earned certification; the joined notifications row is the one
// before the update (the statement's snapshot), so next_attempt_at is when it was due.
const notifyClaimSQL = `
WITH claimed AS (
    SELECT q.id FROM notifications q
    WHERE q.sent_at IS NULL AND q.cancelled_at IS NULL AND q.next_attempt_at <= $1
    ORDER BY q.next_attempt_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE notifications q SET next_attempt_at = $2
    FROM claimed WHERE q.id = claimed.id
    RETURNING q.id, q.next_attempt_at
)
SELECT ` + notificationColumns + `, leased.next_attempt_at AS lease_until,
       c.code AS certification_code, c.name AS certification_name, c.retired_on AS certification_retired_on, p.legal_name,
       e.expires_on AS current_expires_on, e.superseded_at IS NOT NULL AS superseded,
       EXISTS (SELECT 1 FROM notifications l
               WHERE l.earned_certification_id = n.earned_certification_id
                 AND l.cycle_expires_on = n.cycle_expires_on
                 AND l.sequence > n.sequence) AS later_queued
FROM leased
JOIN notifications n ON n.id = leased.id
JOIN earned_certifications e ON e.id = n.earned_certification_id
JOIN certifications c ON c.id = e.certification_id
JOIN certification_profiles p ON p.id = e.profile_id`

// ClaimDue leases one due notification until now + lease, in one committed statement
// (notify.Store); it holds no transaction or connection afterwards.
func (s Notify) ClaimDue(ctx context.Context, now time.Time, lease time.Duration) (notify.Claim, error) {
	var r notifyPendingRow
	if ok, err := s.leaseRow(ctx, &r, notifyClaimSQL, now, lease); !ok {
		return nil, err
	}
	p := notify.Pending{Notification: r.domain(), CertificationCode: r.CertificationCode,
		CertificationName: r.CertificationName, CertificationRetiredOn: nilIfZero(r.CertRetiredOn), LegalName: r.LegalName,
		CurrentExpiresOn: r.CurrentExpiresOn, Superseded: r.Superseded, LaterQueued: r.LaterQueued}
	return &notifyLease{outboxLease: s.emailLease("notifications", p.ID, r.LeaseUntil), p: p}, nil
}

// leaseRow runs query, an outbox claim statement that leases one due row ($1 now, $2 the
// lease's end, leaseEnd) and commits on its own, into dest; false when no row is due.
func (s *Store) leaseRow(ctx context.Context, dest any, query string, now time.Time, lease time.Duration) (bool, error) {
	if err := s.get(ctx, dest, query, now, leaseEnd(now, lease)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("lease: %w", err)
	}
	return true, nil
}

// emailLease is the lease of a row of an email outbox table (notifications,
// verification_emails), settled once sent or cancelled.
func (s Notify) emailLease(table string, id uuid.UUID, until time.Time) outboxLease {
	return outboxLease{s: s.Store, table: table, id: id, until: until,
		open: "sent_at IS NULL AND cancelled_at IS NULL", lost: notify.ErrLeaseLost}
}

// outboxLease is a row of an outbox table (notifications, verification_emails,
// webhook_deliveries) leased by this sender until until, the lease's token, kept in the row's
// next_attempt_at. Each outcome is one statement in a transaction of its own, on whatever
// connection the pool gives, so it may be tried again after a lost connection.
type outboxLease struct {
	s     *Store
	table string
	id    uuid.UUID
	until time.Time
	// open is the SQL condition of a row not settled yet (neither sent nor given up).
	open string
	// lost is the error of an outcome recorded after the lease ran out (the domain's
	// ErrLeaseLost).
	lost error
}

// settle applies the assignments set (parameters from $2 on) to the row whoever holds it now,
// as long as it is open: the email or request did leave, and recording that is right even
// after the lease ran out (the next claimer's failure or cancellation would otherwise record
// something untrue, and a failure would be retried). A row already settled (by an earlier try
// whose answer was lost, or by a later claimer) is left as it is: not an error.
func (l outboxLease) settle(ctx context.Context, set string, args ...any) error {
	if _, err := l.s.exec(ctx, `UPDATE `+l.table+` SET `+set+`
WHERE id = $1 AND `+l.open, append([]any{l.id}, args...)...); err != nil {
		return fmt.Errorf("record settled %s %s: %w", l.table, l.id, err)
	}
	return nil
}

// markSent records the email as sent (with the assignments set adds) whoever holds the row
// now, as long as it is unsent and not cancelled (settle).
func (l outboxLease) markSent(ctx context.Context, at time.Time, set string) error {
	return l.settle(ctx, `sent_at = $2, delivery_attempts = delivery_attempts + 1`+set, at)
}

// MarkFailed records a failed delivery, retried at next, while the lease is still this sender's.
func (l outboxLease) MarkFailed(ctx context.Context, at, next time.Time, lastError string) error {
	return l.guarded(ctx, `delivery_attempts = delivery_attempts + 1, last_error = $3, next_attempt_at = $4`, lastError, next)
}

// guarded applies the assignments set (parameters from $3 on) to the leased row only while
// its next_attempt_at is still the lease's token; l.lost when it matched no row (the lease
// ran out and another sender claimed the row, or it was settled).
func (l outboxLease) guarded(ctx context.Context, set string, args ...any) error {
	res, err := l.s.exec(ctx, `UPDATE `+l.table+` SET `+set+`
WHERE id = $1 AND next_attempt_at = $2 AND `+l.open, append([]any{l.id, l.until}, args...)...)
	if err != nil {
		return fmt.Errorf("record %s %s: %w", l.table, l.id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("record %s %s: %w", l.table, l.id, err)
	}
	if n != 1 {
		return fmt.Errorf("%s %s: %w", l.table, l.id, l.lost)
	}
	return nil
}

// leaseEnd is the end of a lease of an outbox row claimed at now, which is also the claim's
// token: PostgreSQL keeps microseconds, so the value is cut to what will be stored.
func leaseEnd(now time.Time, lease time.Duration) time.Time {
	return now.Add(lease).Truncate(time.Microsecond)
}

// notifyLease is a leased notification (notify.Claim).
type notifyLease struct {
	outboxLease
	p notify.Pending
}

func (c *notifyLease) Pending() notify.Pending { return c.p }

func (c *notifyLease) MarkSent(ctx context.Context, at time.Time) error {
	return c.markSent(ctx, at, "")
}

// Cancel records the cancellation while the lease is still this sender's.
func (c *notifyLease) Cancel(ctx context.Context, at time.Time, reason notify.CancelReason) error {
	return c.guarded(ctx, `cancelled_at = $3, cancel_reason = $4`, at, string(reason))
}

// NotificationsByProfile lists a profile's notifications, newest first (notify.Store).
func (s Notify) NotificationsByProfile(ctx context.Context, profileID uuid.UUID, after *notify.Cursor, limit int) ([]notify.Notification, bool, error) {
	var at *time.Time
	var id uuid.UUID
	if after != nil {
		at, id = &after.ScheduledFor, after.ID
	}
	var rows []notificationRow
	err := s.sel(ctx, &rows, `SELECT `+notificationColumns+`
FROM notifications n
JOIN earned_certifications e ON e.id = n.earned_certification_id
WHERE e.profile_id = $1 AND n.cancelled_at IS NULL
  AND ($2::timestamptz IS NULL OR (n.scheduled_for, n.id) < ($2, $3))
ORDER BY n.scheduled_for DESC, n.id DESC
LIMIT $4`, profileID, at, id, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list notifications: %w", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]notify.Notification, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, more, nil
}

// CountNotificationsByProfile counts what NotificationsByProfile lists (notify.Store).
func (s Notify) CountNotificationsByProfile(ctx context.Context, profileID uuid.UUID) (int, error) {
	var n int
	err := s.get(ctx, &n, `SELECT count(*) FROM notifications n
JOIN earned_certifications e ON e.id = n.earned_certification_id
WHERE e.profile_id = $1 AND n.cancelled_at IS NULL`, profileID)
	if err != nil {
		return 0, fmt.Errorf("count notifications: %w", err)
	}
	return n, nil
}

// NotificationsByIDs loads notifications in key order (notify.Store).
func (s Notify) NotificationsByIDs(ctx context.Context, ids []uuid.UUID) ([]*notify.Notification, []error) {
	var rows []notificationRow
	if err := s.sel(ctx, &rows, `SELECT `+notificationColumns+`
FROM notifications n JOIN earned_certifications e ON e.id = n.earned_certification_id
WHERE n.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r notificationRow) (uuid.UUID, notify.Notification) { return r.ID, r.domain() }, "notification")
}
