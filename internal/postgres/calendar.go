package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/date"
)

// Calendar adapts the Store to calendar.Store.
type Calendar struct{ *Store }

// InTx runs fn in one transaction.
func (s Calendar) InTx(ctx context.Context, fn func(tx calendar.Store) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(Calendar{tx}) })
}

type feedRow struct {
	ID        uuid.UUID  `db:"id"`
	ProfileID uuid.UUID  `db:"profile_id"`
	CreatedAt time.Time  `db:"created_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

func (r feedRow) domain() calendar.Feed {
	f := calendar.Feed{ID: r.ID, ProfileID: r.ProfileID, CreatedAt: r.CreatedAt.UTC()}
	if r.RevokedAt != nil {
		t := r.RevokedAt.UTC()
		f.RevokedAt = &t
	}
	return f
}

const feedColumns = `f.id, f.profile_id, f.created_at, f.revoked_at`

// LockProfile locks one certification profile row.
func (s Calendar) LockProfile(ctx context.Context, id uuid.UUID) (certprofile.Profile, error) {
	return CertProfile{s.Store}.LockProfile(ctx, id)
}

// ProfileByID loads one certification profile.
func (s Calendar) ProfileByID(ctx context.Context, id uuid.UUID) (certprofile.Profile, error) {
	list, errs := CertProfile{s.Store}.ProfilesByIDs(ctx, []uuid.UUID{id})
	if len(errs) > 0 && errs[0] != nil {
		return certprofile.Profile{}, errs[0]
	}
	return *list[0], nil
}

// CountLiveFeeds counts a profile's unrevoked feeds.
func (s Calendar) CountLiveFeeds(ctx context.Context, profileID uuid.UUID) (int, error) {
	var n int
	if err := s.get(ctx, &n, `SELECT count(*) FROM calendar_feeds f WHERE f.profile_id = $1 AND f.revoked_at IS NULL`, profileID); err != nil {
		return 0, fmt.Errorf("count live calendar feeds: %w", err)
	}
	return n, nil
}

// InsertFeed stores a feed with its token's hash.
func (s Calendar) InsertFeed(ctx context.Context, f calendar.Feed, tokenHash []byte) (calendar.Feed, error) {
	var r feedRow
	if err := s.get(ctx, &r, `INSERT INTO calendar_feeds AS f (profile_id, token_hash, created_at) VALUES ($1, $2, $3)
RETURNING `+feedColumns, f.ProfileID, tokenHash, f.CreatedAt); err != nil {
		return calendar.Feed{}, fmt.Errorf("insert calendar feed: %w", err)
	}
	return r.domain(), nil
}

// FeedByID loads a feed.
func (s Calendar) FeedByID(ctx context.Context, id uuid.UUID) (calendar.Feed, error) {
	var r feedRow
	if err := s.get(ctx, &r, `SELECT `+feedColumns+` FROM calendar_feeds f WHERE f.id = $1`, id); err != nil {
		return calendar.Feed{}, notFound(err, "calendar feed")
	}
	return r.domain(), nil
}

// RevokeFeed sets revoked_at unless it is set already.
func (s Calendar) RevokeFeed(ctx context.Context, id uuid.UUID, at time.Time) (calendar.Feed, error) {
	var r feedRow
	if err := s.get(ctx, &r, `UPDATE calendar_feeds f SET revoked_at = COALESCE(f.revoked_at, $2) WHERE f.id = $1
RETURNING `+feedColumns, id, at); err != nil {
		return calendar.Feed{}, notFound(err, "calendar feed")
	}
	return r.domain(), nil
}

// FeedsByProfileIDs lists at most calendar.Listed feeds per profile: live ones first, each
// group newest first.
func (s Calendar) FeedsByProfileIDs(ctx context.Context, ids []uuid.UUID) ([][]calendar.Feed, error) {
	var rows []feedRow
	if err := s.sel(ctx, &rows, `SELECT f.id, f.profile_id, f.created_at, f.revoked_at FROM (
  SELECT f.*, row_number() OVER (PARTITION BY f.profile_id
    ORDER BY f.revoked_at IS NULL DESC, f.created_at DESC, f.id DESC) AS n
  FROM calendar_feeds f WHERE f.profile_id = ANY($1)) f
WHERE f.n <= $2 ORDER BY f.revoked_at IS NULL DESC, f.created_at DESC, f.id DESC`, pq.Array(ids), calendar.Listed); err != nil {
		return nil, fmt.Errorf("load calendar feeds: %w", err)
	}
	return groupByKey(ids, rows, func(r feedRow) (uuid.UUID, calendar.Feed) { return r.ProfileID, r.domain() }), nil
}

type entryRow struct {
	EarnedID   *uuid.UUID `db:"earned_id"`
	Code       *string    `db:"code"`
	Name       *string    `db:"name"`
	ExpiresOn  date.Date  `db:"expires_on"`
	RetiredOn  date.Date  `db:"retired_on"`
	Renewals   int        `db:"renewals"`
	ModifiedAt *time.Time `db:"modified_at"`
}

// feedEntriesSQL finds the live feed of a token hash ($1), follows its profile's merge chain
// to the survivor and lists that profile's current renewable certifications on day $2. A live
// feed with no such certification still gives one row (all NULL but the marker), so one
// statement tells "unknown or revoked" from "empty".
const feedEntriesSQL = `
WITH RECURSIVE chain AS (
    SELECT p.id, p.merged_into, 0 AS depth
    FROM calendar_feeds f JOIN certification_profiles p ON p.id = f.profile_id
    WHERE f.token_hash = $1 AND f.revoked_at IS NULL
  UNION ALL
    SELECT p.id, p.merged_into, c.depth + 1
    FROM certification_profiles p JOIN chain c ON p.id = c.merged_into WHERE c.depth < 32
), survivor AS (SELECT id FROM chain ORDER BY depth DESC LIMIT 1)
SELECT e.id AS earned_id, c.code, c.name, e.expires_on, c.retired_on,
       COALESCE(r.n, 0) AS renewals, COALESCE(r.last, e.created_at) AS modified_at
FROM survivor s
LEFT JOIN earned_certifications e ON e.profile_id = s.id AND e.superseded_at IS NULL
     AND e.expires_on > $2
     AND EXISTS (SELECT 1 FROM certifications c2 WHERE c2.id = e.certification_id
                 AND (c2.retired_on IS NULL OR c2.retired_on >= $2))
     AND EXISTS (SELECT 1 FROM renewal_assessments ra JOIN assessment_versions v ON v.assessment_id = ra.id
                 WHERE ra.certification_id = e.certification_id)
LEFT JOIN certifications c ON c.id = e.certification_id
LEFT JOIN LATERAL (SELECT count(*) AS n, max(x.renewed_at) AS last FROM renewals x
                   WHERE x.earned_certification_id = e.id) r ON true
ORDER BY e.expires_on, c.code, e.id`

// Entries reads a live feed's current renewable certifications (calendar.Store).
func (s Calendar) Entries(ctx context.Context, tokenHash []byte, today date.Date) ([]calendar.Entry, bool, error) {
	var rows []entryRow
	if err := s.sel(ctx, &rows, feedEntriesSQL, tokenHash, today); err != nil {
		return nil, false, fmt.Errorf("read calendar feed: %w", err)
	}
	if len(rows) == 0 {
		return nil, false, nil
	}
	var out []calendar.Entry
	for _, r := range rows {
		if r.EarnedID == nil {
			continue
		}
		out = append(out, r.domain())
	}
	return out, true, nil
}

func (r entryRow) domain() calendar.Entry {
	e := calendar.Entry{EarnedID: *r.EarnedID, Code: *r.Code, Name: *r.Name, ExpiresOn: r.ExpiresOn,
		Renewals: r.Renewals, ModifiedAt: r.ModifiedAt.UTC()}
	if !r.RetiredOn.IsZero() {
		d := r.RetiredOn
		e.RetiredOn = &d
	}
	return e
}

// entryByEarnedSQL reads one earned certification ($1) with the columns and conditions of
// feedEntriesSQL on day $2: keep the two in step, so the invite carries the feed's events.
const entryByEarnedSQL = `
SELECT e.id AS earned_id, c.code, c.name, e.expires_on, c.retired_on,
       COALESCE(r.n, 0) AS renewals, COALESCE(r.last, e.created_at) AS modified_at
FROM earned_certifications e
JOIN certifications c ON c.id = e.certification_id
LEFT JOIN LATERAL (SELECT count(*) AS n, max(x.renewed_at) AS last FROM renewals x
                   WHERE x.earned_certification_id = e.id) r ON true
WHERE e.id = $1 AND e.superseded_at IS NULL AND e.expires_on > $2
  AND (c.retired_on IS NULL OR c.retired_on >= $2)
  AND EXISTS (SELECT 1 FROM renewal_assessments ra JOIN assessment_versions v ON v.assessment_id = ra.id
              WHERE ra.certification_id = e.certification_id)`

// EntryByEarnedID reads one earned certification as a feed lists it (calendar.Store).
func (s Calendar) EntryByEarnedID(ctx context.Context, id uuid.UUID, today date.Date) (calendar.Entry, bool, error) {
	var rows []entryRow
	if err := s.sel(ctx, &rows, entryByEarnedSQL, id, today); err != nil {
		return calendar.Entry{}, false, fmt.Errorf("read calendar entry: %w", err)
	}
	if len(rows) == 0 {
		return calendar.Entry{}, false, nil
	}
	return rows[0].domain(), true, nil
}
