package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/transcript"
)

var _ merge.Store = Merge{}

// InTx runs fn in one transaction with a Merges bound to it (see Store.InTx).
func (s Merge) InTx(ctx context.Context, fn func(tx merge.Store) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(Merge{tx}) })
}

// Profiles loads profiles by id without locking.
func (s Merge) Profiles(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]certprofile.Profile, error) {
	var rows []profileRow
	if err := s.sel(ctx, &rows, `SELECT `+ProfileColumns+` FROM certification_profiles p WHERE p.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]certprofile.Profile, len(rows))
	for _, r := range rows {
		out[r.ID] = r.domain()
	}
	return out, nil
}

const lockProfileSQL = `SELECT ` + ProfileColumns + ` FROM certification_profiles p WHERE p.id = $1 FOR UPDATE`

// LockProfiles locks the profiles FOR UPDATE, one statement per profile in ascending id order
// so the order the locks are taken in never depends on a query plan. FOR UPDATE also blocks
// inserts referencing the profiles (their foreign key checks take KEY SHARE locks) until the
// merge commits.
func (s Merge) LockProfiles(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]certprofile.Profile, error) {
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	sorted = slices.Compact(sorted)
	out := make(map[uuid.UUID]certprofile.Profile, len(sorted))
	for _, id := range sorted {
		var r profileRow
		err := s.get(ctx, &r, lockProfileSQL, id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = r.domain()
	}
	return out, nil
}

type mergeLinkRow struct {
	LearnProfileID         uuid.UUID `db:"learn_profile_id"`
	CertificationProfileID uuid.UUID `db:"certification_profile_id"`
	LinkedAt               time.Time `db:"linked_at"`
}

const mergeLinksSQL = `SELECT learn_profile_id, certification_profile_id, linked_at FROM profile_links
WHERE certification_profile_id = ANY($1)`

// Links loads the profiles' Learn profile connections, keyed by certification profile id.
func (s Merge) Links(ctx context.Context, profileIDs []uuid.UUID, lock bool) (map[uuid.UUID]certprofile.Link, error) {
	q := mergeLinksSQL
	if lock {
		q += ` ORDER BY certification_profile_id FOR UPDATE`
	}
	var rows []mergeLinkRow
	if err := s.sel(ctx, &rows, q, pq.Array(profileIDs)); err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]certprofile.Link, len(rows))
	for _, r := range rows {
		out[r.CertificationProfileID] = certprofile.Link{LearnProfileID: r.LearnProfileID,
			CertificationProfileID: r.CertificationProfileID, LinkedAt: r.LinkedAt.UTC()}
	}
	return out, nil
}

const mergeEarnedSQL = `SELECT id, profile_id, certification_id, earned_on, expires_on, superseded_at, superseded_by, created_at
FROM earned_certifications WHERE profile_id = ANY($1) ORDER BY id`

// Earned loads every earned certification of the profiles, in id order (the lock order).
func (s Merge) Earned(ctx context.Context, profileIDs []uuid.UUID, lock bool) ([]transcript.Earned, error) {
	q := mergeEarnedSQL
	if lock {
		q += ` FOR UPDATE`
	}
	var rows []earnedRow
	if err := s.sel(ctx, &rows, q, pq.Array(profileIDs)); err != nil {
		return nil, err
	}
	out := make([]transcript.Earned, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

const attemptsInProgressSQL = `
SELECT a.id, a.earned_certification_id, e.profile_id, e.certification_id
FROM assessment_attempts a JOIN earned_certifications e ON e.id = a.earned_certification_id
WHERE e.profile_id = ANY($1) AND a.submitted_at IS NULL
ORDER BY a.started_at, a.id`

// AttemptsInProgress lists the unsubmitted renewal attempts of the profiles.
func (s Merge) AttemptsInProgress(ctx context.Context, profileIDs []uuid.UUID) ([]merge.Attempt, error) {
	var rows []struct {
		ID              uuid.UUID `db:"id"`
		EarnedID        uuid.UUID `db:"earned_certification_id"`
		ProfileID       uuid.UUID `db:"profile_id"`
		CertificationID uuid.UUID `db:"certification_id"`
	}
	if err := s.sel(ctx, &rows, attemptsInProgressSQL, pq.Array(profileIDs)); err != nil {
		return nil, err
	}
	out := make([]merge.Attempt, len(rows))
	for i, r := range rows {
		out[i] = merge.Attempt{ID: r.ID, EarnedID: r.EarnedID, ProfileID: r.ProfileID, CertificationID: r.CertificationID}
	}
	return out, nil
}

const countMovingSQL = `
SELECT (SELECT count(*) FROM earned_certifications WHERE profile_id = $1) AS earned,
       (SELECT count(*) FROM exam_results WHERE profile_id = $1) AS exam_results,
       (SELECT count(*) FROM assessment_attempts a JOIN earned_certifications e ON e.id = a.earned_certification_id
         WHERE e.profile_id = $1) AS attempts`

// CountMoving counts the earned certifications, exam results and attempts of the duplicate.
func (s Merge) CountMoving(ctx context.Context, duplicateID uuid.UUID) (merge.Counts, error) {
	var r struct {
		Earned      int `db:"earned"`
		ExamResults int `db:"exam_results"`
		Attempts    int `db:"attempts"`
	}
	if err := s.get(ctx, &r, countMovingSQL, duplicateID); err != nil {
		return merge.Counts{}, err
	}
	return merge.Counts{Earned: r.Earned, ExamResults: r.ExamResults, Attempts: r.Attempts}, nil
}

const (
	moveEarnedSQL  = `UPDATE earned_certifications SET profile_id = $1 WHERE profile_id = $2 RETURNING id`
	moveResultsSQL = `UPDATE exam_results SET profile_id = $1 WHERE profile_id = $2 RETURNING id`
	moveSharesSQL  = `UPDATE transcript_shares SET profile_id = $1 WHERE profile_id = $2 RETURNING id`
	// A live team grant of the duplicate to a tenant the survivor has granted already would be
	// a second live grant: it is revoked and stays with the duplicate, as history.
	revokeTwinGrantsSQL = `UPDATE team_access_grants d SET revoked_at = $3
WHERE d.certification_profile_id = $2 AND d.revoked_at IS NULL
  AND EXISTS (SELECT 1 FROM team_access_grants s
              WHERE s.certification_profile_id = $1 AND s.tenant_id = d.tenant_id AND s.revoked_at IS NULL)
RETURNING d.id`
	moveGrantsSQL = `UPDATE team_access_grants SET certification_profile_id = $1
WHERE certification_profile_id = $2 AND NOT (id = ANY($3)) RETURNING id`
	countHangingSQL = `
SELECT (SELECT count(*) FROM assessment_attempts WHERE earned_certification_id = ANY($1)) AS attempts,
       (SELECT count(*) FROM renewals WHERE earned_certification_id = ANY($1)) AS renewals,
       (SELECT count(*) FROM notifications WHERE earned_certification_id = ANY($1)) AS notifications`
	// Reminders not sent yet go to the survivor's contact email (docs/domain.md "Notifications":
	// reminders go to the profile's contact email); sent ones keep where they went.
	readdressSQL = `UPDATE notifications SET email = $1
WHERE earned_certification_id = ANY($2) AND sent_at IS NULL AND email <> $1`
	// The duplicate's email and its own alternates join the survivor's alternates, except
	// those the survivor already has (as its email or an alternate, ignoring case). The
	// duplicate keeps its rows: nothing is deleted.
	addAlternatesSQL = `
INSERT INTO profile_alternate_emails (profile_id, email, from_profile_id, added_at)
SELECT $1, e.email, e.from_profile_id, $5
FROM (
    SELECT DISTINCT ON (lower(c.email)) c.email, c.from_profile_id
    FROM (
        SELECT $2::text AS email, $3::uuid AS from_profile_id, 0 AS pri
      UNION ALL
        SELECT a.email, COALESCE(a.from_profile_id, a.profile_id), 1
        FROM profile_alternate_emails a WHERE a.profile_id = $3
    ) c
    ORDER BY lower(c.email), c.pri
) e
WHERE lower(e.email) <> lower($4)
  AND NOT EXISTS (SELECT 1 FROM profile_alternate_emails x WHERE x.profile_id = $1 AND lower(x.email) = lower(e.email))
ON CONFLICT (profile_id, email) DO NOTHING
RETURNING email`
)

// MoveRows moves the duplicate's rows to the survivor (see merge.Store).
func (s Merge) MoveRows(ctx context.Context, survivor, duplicate certprofile.Profile, now time.Time) (merge.Moved, error) {
	var m merge.Moved
	if err := s.sel(ctx, &m.EarnedIDs, moveEarnedSQL, survivor.ID, duplicate.ID); err != nil {
		return m, fmt.Errorf("earned certifications: %w", err)
	}
	var hanging struct {
		Attempts      int `db:"attempts"`
		Renewals      int `db:"renewals"`
		Notifications int `db:"notifications"`
	}
	if err := s.get(ctx, &hanging, countHangingSQL, pq.Array(m.EarnedIDs)); err != nil {
		return m, fmt.Errorf("count attempts: %w", err)
	}
	m.Attempts, m.Renewals, m.Notifications = hanging.Attempts, hanging.Renewals, hanging.Notifications
	res, err := s.exec(ctx, readdressSQL, survivor.Email, pq.Array(m.EarnedIDs))
	if err != nil {
		return m, fmt.Errorf("readdress notifications: %w", err)
	}
	n, _ := res.RowsAffected()
	m.NotificationsMailTo = int(n)
	if err := s.sel(ctx, &m.ExamResultIDs, moveResultsSQL, survivor.ID, duplicate.ID); err != nil {
		return m, fmt.Errorf("exam results: %w", err)
	}
	if err := s.sel(ctx, &m.TranscriptShareIDs, moveSharesSQL, survivor.ID, duplicate.ID); err != nil {
		return m, fmt.Errorf("transcript shares: %w", err)
	}
	if err := s.sel(ctx, &m.RevokedGrantIDs, revokeTwinGrantsSQL, survivor.ID, duplicate.ID, now); err != nil {
		return m, fmt.Errorf("team access grants: %w", err)
	}
	if err := s.sel(ctx, &m.TeamAccessGrantIDs, moveGrantsSQL, survivor.ID, duplicate.ID, pq.Array(m.RevokedGrantIDs)); err != nil {
		return m, fmt.Errorf("team access grants: %w", err)
	}
	if err := s.sel(ctx, &m.AlternateEmails, addAlternatesSQL, survivor.ID, duplicate.Email, duplicate.ID, survivor.Email, now); err != nil {
		return m, fmt.Errorf("alternate emails: %w", err)
	}
	for _, ids := range [][]uuid.UUID{m.EarnedIDs, m.ExamResultIDs, m.TranscriptShareIDs, m.TeamAccessGrantIDs, m.RevokedGrantIDs} {
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	}
	slices.Sort(m.AlternateEmails)
	for _, p := range []*[]uuid.UUID{&m.EarnedIDs, &m.ExamResultIDs, &m.TranscriptShareIDs, &m.TeamAccessGrantIDs, &m.RevokedGrantIDs} {
		if *p == nil {
			*p = []uuid.UUID{}
		}
	}
	if m.AlternateEmails == nil {
		m.AlternateEmails = []string{}
	}
	return m, nil
}

const supersedeSQL = `
UPDATE earned_certifications e SET superseded_at = $1, superseded_by = u.winner
FROM unnest($2::uuid[], $3::uuid[]) AS u(loser, winner)
WHERE e.id = u.loser AND e.superseded_at IS NULL`

// Supersede marks each loser SUPERSEDED by its winner.
func (s Merge) Supersede(ctx context.Context, sup []merge.Supersession, now time.Time) error {
	if len(sup) == 0 {
		return nil
	}
	losers := make([]uuid.UUID, len(sup))
	winners := make([]uuid.UUID, len(sup))
	for i, x := range sup {
		losers[i], winners[i] = x.Loser.ID, x.Winner.ID
	}
	res, err := s.exec(ctx, supersedeSQL, now, pq.Array(losers), pq.Array(winners))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); int(n) != len(sup) {
		return fmt.Errorf("superseded %d earned certifications, want %d", n, len(sup))
	}
	return nil
}

// ApplyLink removes the connections given up or dropped and moves the duplicate's to the
// survivor (within one account: the row keeps its account_id, which its foreign keys check).
func (s Merge) ApplyLink(ctx context.Context, plan merge.LinkPlan, survivorID uuid.UUID) error {
	for _, l := range []*certprofile.Link{plan.Remove, plan.Drop} {
		if l == nil {
			continue
		}
		if err := s.one(ctx, `DELETE FROM profile_links WHERE learn_profile_id = $1 AND certification_profile_id = $2`,
			l.LearnProfileID, l.CertificationProfileID); err != nil {
			return fmt.Errorf("remove link: %w", err)
		}
	}
	if l := plan.Move; l != nil {
		if err := s.one(ctx, `UPDATE profile_links SET certification_profile_id = $1
WHERE learn_profile_id = $2 AND certification_profile_id = $3`, survivorID, l.LearnProfileID, l.CertificationProfileID); err != nil {
			return fmt.Errorf("move link: %w", err)
		}
	}
	return nil
}

// one runs a statement that must change exactly one row.
func (s Merge) one(ctx context.Context, q string, args ...any) error {
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("changed %d rows, want 1", n)
	}
	return nil
}

// MarkMerged sets the duplicate MERGED into the survivor.
func (s Merge) MarkMerged(ctx context.Context, duplicateID, survivorID uuid.UUID, now time.Time) (certprofile.Profile, error) {
	var r profileRow
	err := s.get(ctx, &r, `UPDATE certification_profiles AS p SET status = 'MERGED', merged_into = $2, merged_at = $3
WHERE p.id = $1 AND p.status = 'ACTIVE' RETURNING `+ProfileColumns, duplicateID, survivorID, now)
	if err != nil {
		return certprofile.Profile{}, err
	}
	return r.domain(), nil
}

// InsertMerge records a merge; merges_duplicate_key makes a second merge of one duplicate
// PROFILE_ALREADY_MERGED even if the locks were ever bypassed.
func (s Merge) InsertMerge(ctx context.Context, survivorID, duplicateID, eventID uuid.UUID, now time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO merges (survivor_id, duplicate_id, audit_event_id, merged_at) VALUES ($1, $2, $3, $4)`,
		survivorID, duplicateID, eventID, now)
	return err
}

// AuditEventsByIDs loads audit events in key order.
func (s Merge) AuditEventsByIDs(ctx context.Context, ids []uuid.UUID) ([]*merge.AuditEvent, []error) {
	var rows []auditEventRow
	if err := s.sel(ctx, &rows, `SELECT `+auditEventColumns+` FROM audit_events e WHERE e.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r auditEventRow) (uuid.UUID, merge.AuditEvent) { return r.ID, r.domain() }, "audit event")
}

// mergeTreeCTE is the profile $1 and every profile merged into it, directly or down a chain.
const mergeTreeCTE = `
WITH RECURSIVE tree AS (
    SELECT $1::uuid AS id
  UNION
    SELECT p.id FROM certification_profiles p JOIN tree t ON p.merged_into = t.id
)`

const auditEventsOfSQL = mergeTreeCTE + `
SELECT ` + auditEventColumns + ` FROM audit_events e
WHERE EXISTS (SELECT 1 FROM audit_event_profiles ep WHERE ep.event_id = e.id AND ep.profile_id IN (SELECT id FROM tree))
  AND ($2::timestamptz IS NULL OR (e.occurred_at, e.id) < ($2, $3::uuid))
ORDER BY e.occurred_at DESC, e.id DESC
LIMIT $4`

// AuditEventsOf lists the events of a profile and the profiles merged into it, newest first.
func (s Merge) AuditEventsOf(ctx context.Context, profileID uuid.UUID, page merge.Page) ([]merge.AuditEvent, error) {
	var afterAt *time.Time
	var afterID *uuid.UUID
	if page.After != nil {
		afterAt, afterID = &page.After.OccurredAt, &page.After.ID
	}
	var rows []auditEventRow
	if err := s.sel(ctx, &rows, auditEventsOfSQL, profileID, afterAt, afterID, page.Limit); err != nil {
		return nil, err
	}
	out := make([]merge.AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// CountAuditEventsOf counts what AuditEventsOf lists.
func (s Merge) CountAuditEventsOf(ctx context.Context, profileID uuid.UUID) (int, error) {
	var n int
	err := s.get(ctx, &n, mergeTreeCTE+`
SELECT count(DISTINCT ep.event_id) FROM audit_event_profiles ep WHERE ep.profile_id IN (SELECT id FROM tree)`, profileID)
	return n, err
}

// DeleteExpiredKeys deletes the idempotency keys (the merge's and every other mutation's,
// package idem) that expired at or before now.
func (s Merge) DeleteExpiredKeys(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
