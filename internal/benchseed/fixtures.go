package benchseed

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/date"
)

// Pair is a survivor and a duplicate to merge: the duplicate holds HeavyEarned earned
// certifications and MergeExamResults exam results, some of the same certifications as the
// survivor (so a merge supersedes some), and is not connected; the survivor is connected.
type Pair struct {
	SurvivorID    uuid.UUID `db:"survivor_id"`
	DuplicateID   uuid.UUID `db:"duplicate_id"`
	SurvivorMCID  int64     `db:"survivor_mcid"`
	DuplicateMCID int64     `db:"duplicate_mcid"`
}

// MergeFixtures makes n fresh merge pairs named after tag (a merge consumes its pair, so
// each benchmark run makes its own with a new tag). The catalog must be loaded.
func MergeFixtures(ctx context.Context, db *sqlx.DB, ref date.Date, tag string, n int) ([]Pair, error) {
	conn, err := db.Connx(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	vars := map[string]string{"{{k}}": "'m:'", "{{seed}}": "0"}
	if _, err := conn.ExecContext(ctx, `SET synchronous_commit = off; SET TIME ZONE 'UTC'; SET jit = off;`+expand(helpersSQL, vars)); err != nil {
		return nil, fmt.Errorf("merge fixtures helpers: %w", err)
	}
	out := make([]Pair, 0, n)
	for i := 0; i < n; i++ {
		p, err := mergeFixture(ctx, conn, ref, tag, i)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if _, err := conn.ExecContext(ctx, `ANALYZE earned_certifications, exam_results, certification_profiles`); err != nil {
		return nil, err
	}
	return out, nil
}

// mergeFixtureSQL creates one pair; $1 is a unique key (tag and number), $2 the reference
// date. It needs the helpers of helpersSQL on the connection.
const mergeFixtureSQL = `
WITH acc AS (
  INSERT INTO accounts (id, issuer, subject, kind, email, display_name, created_at)
  SELECT pg_temp.u('ma:' || $1 || ':' || s), 'recert-bench-merge', 'bench-merge-' || $1 || '-' || s, 'PERSONAL',
         'merge-' || $1 || '-' || s || '@example.com', 'Merge Person ' || $1, $2::date - 900
  FROM unnest(ARRAY['s', 'd']) s
  RETURNING id, subject, email, display_name, created_at),
lp AS (
  INSERT INTO learn_profiles (id, account_id, created_at)
  SELECT pg_temp.u('ml:' || $1 || ':' || right(subject, 1)), id, created_at FROM acc RETURNING id, account_id),
cp AS (
  INSERT INTO certification_profiles (id, account_id, legal_name, email, status, created_at)
  SELECT pg_temp.u('mp:' || $1 || ':' || right(subject, 1)), id, display_name, email, 'ACTIVE', created_at FROM acc
  RETURNING id, mcid, account_id),
link AS (
  INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
  SELECT pg_temp.u('ml:' || $1 || ':s'), pg_temp.u('mp:' || $1 || ':s'), pg_temp.u('ma:' || $1 || ':s'), $2::date - 800
  RETURNING 1)
SELECT (SELECT id FROM cp WHERE id = pg_temp.u('mp:' || $1 || ':s')) AS survivor_id,
       (SELECT id FROM cp WHERE id = pg_temp.u('mp:' || $1 || ':d')) AS duplicate_id,
       (SELECT mcid FROM cp WHERE id = pg_temp.u('mp:' || $1 || ':s')) AS survivor_mcid,
       (SELECT mcid FROM cp WHERE id = pg_temp.u('mp:' || $1 || ':d')) AS duplicate_mcid,
       (SELECT count(*) FROM link) AS linked`

// mergeEarnedSQL gives profile $2 ($1 its key) $3 earned certifications, expiries spread over
// two years around $4.
const mergeEarnedSQL = `
INSERT INTO earned_certifications (id, profile_id, certification_id, earned_on, expires_on, created_at)
SELECT pg_temp.u('me:' || $1 || ':' || j), $2, c.id,
       CASE WHEN c.fundamentals THEN $4::date - 400 ELSE (x.e - interval '1 year')::date END,
       CASE WHEN c.fundamentals THEN NULL ELSE x.e END,
       $4::date - 400
FROM generate_series(1, $3::int) j
JOIN bc c ON c.ord = (j * 7) % (SELECT count(*) FROM bc)
CROSS JOIN LATERAL (SELECT $4::date - 365 + (pg_temp.h('mx:' || $1 || ':' || j) % 730)::int AS e) x`

// mergeResultsSQL gives profile $2 ($1 its key) $3 exam results.
const mergeResultsSQL = `
INSERT INTO exam_results (id, profile_id, exam_code, passed, score, taken_at, language, external_id, recorded_at)
SELECT pg_temp.u('mr:' || $1 || ':' || j), $2, x.code, j % 3 <> 0, CASE WHEN j % 3 <> 0 THEN 800 ELSE 500 END,
       $4::date - (j % 1000), x.lang, 'bench-merge-' || $1 || '-' || j, $4::date - (j % 1000) + interval '1 hour'
FROM generate_series(1, $3::int) j
CROSS JOIN LATERAL (SELECT (j % (SELECT count(*) FROM bx))::int AS ord) o
JOIN bx x ON x.ord = o.ord`

func mergeFixture(ctx context.Context, conn *sqlx.Conn, ref date.Date, tag string, i int) (Pair, error) {
	key := tag + "-" + strconv.Itoa(i)
	var row struct {
		Pair
		Linked int `db:"linked"`
	}
	if err := conn.GetContext(ctx, &row, mergeFixtureSQL, key, ref.String()); err != nil {
		return Pair{}, fmt.Errorf("merge fixture %s: %w", key, err)
	}
	for _, st := range []struct {
		sql     string
		side    string
		profile uuid.UUID
		n       int
	}{
		{mergeEarnedSQL, "s", row.SurvivorID, 20},
		{mergeEarnedSQL, "d", row.DuplicateID, HeavyEarned},
		{mergeResultsSQL, "s", row.SurvivorID, 50},
		{mergeResultsSQL, "d", row.DuplicateID, MergeExamResults},
	} {
		if _, err := conn.ExecContext(ctx, st.sql, key+":"+st.side, st.profile, st.n, ref.String()); err != nil {
			return Pair{}, fmt.Errorf("merge fixture %s rows: %w", key, err)
		}
	}
	return row.Pair, nil
}

// Owner is a bench profile's owner: what a token for them needs.
type Owner struct {
	MCID    int64  `db:"mcid"`
	Subject string `db:"subject"`
	Email   string `db:"email"`
	Name    string `db:"display_name"`
	Earned  int    `db:"earned"`
}

// Owners lists the owners of the bench profiles (not the duplicates), by MCID, with how many
// earned certifications each profile holds.
func Owners(ctx context.Context, db *sqlx.DB, issuer string) ([]Owner, error) {
	var out []Owner
	err := db.SelectContext(ctx, &out, `
SELECT p.mcid, a.subject, coalesce(a.email, '') AS email, coalesce(a.display_name, '') AS display_name,
       (SELECT count(*) FROM earned_certifications e WHERE e.profile_id = p.id) AS earned
FROM certification_profiles p JOIN accounts a ON a.id = p.account_id
WHERE a.issuer = $1 AND a.subject LIKE 'bench-%' AND p.mcid BETWEEN $2 AND $3 AND p.status = 'ACTIVE'
ORDER BY p.mcid`, issuer, MCIDBase+1, MCIDBase+399_999_999)
	return out, err
}

// Signer mints development tokens for bench accounts with the server's HS256 settings.
type Signer struct {
	Secret           []byte
	Issuer, Audience string
	TTL              time.Duration
}

// Token mints a personal-account token for o whose email and name match the account, so the
// server signs them in without rewriting the account.
func (s Signer) Token(o Owner, now time.Time) (string, error) {
	return auth.MintDev(s.Secret, s.Issuer, s.Audience, now, auth.DevToken{
		Subject: o.Subject, Personal: true, Email: o.Email, Name: o.Name, TTL: s.TTL,
	})
}

// WriteTokens writes one line per owner: MCID, earned count and token, tab-separated.
func WriteTokens(w io.Writer, owners []Owner, s Signer, now time.Time) error {
	for _, o := range owners {
		tok, err := s.Token(o, now)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%d\t%d\t%s\n", o.MCID, o.Earned, tok); err != nil {
			return err
		}
	}
	return nil
}

// ReminderMCIDBase numbers the extra profiles TopUpEarned makes.
const ReminderMCIDBase = 950_000_000

// topUpSQL adds $1 accounts, Learn profiles and certification profiles, numbered after the
// $2 already made (so it can run again), created before the reference date $3, MCIDs from $4.
const topUpSQL = `
WITH acc AS (
  INSERT INTO accounts (id, issuer, subject, kind, email, display_name, created_at)
  SELECT pg_temp.u('ra:' || i), 'recert-bench-reminders', 'bench-reminders-' || i, 'PERSONAL',
         'reminders' || i || '@example.com', 'Reminder Learner ' || i, $3::date - 900
  FROM generate_series($2 + 1, $2 + $1) i RETURNING id),
lp AS (
  INSERT INTO learn_profiles (id, account_id, created_at)
  SELECT pg_temp.u('rl:' || i), pg_temp.u('ra:' || i), $3::date - 900 FROM generate_series($2 + 1, $2 + $1) i
  RETURNING id),
cp AS (
  INSERT INTO certification_profiles (id, mcid, account_id, legal_name, email, preferred_language, status, created_at)
  SELECT pg_temp.u('rp:' || i), $4::bigint + i, pg_temp.u('ra:' || i), 'Reminder Learner ' || i,
         'reminders' || i || '@example.com', 'en', 'ACTIVE', $3::date - 900
  FROM generate_series($2 + 1, $2 + $1) i RETURNING id)
SELECT (SELECT count(*) FROM cp) + 0 * (SELECT count(*) FROM acc) + 0 * (SELECT count(*) FROM lp)`

const topUpLinksSQL = `
INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
SELECT pg_temp.u('rl:' || i), pg_temp.u('rp:' || i), pg_temp.u('ra:' || i), $2::date - 800
FROM generate_series($1 + 1, $1 + $3) i`

const topUpEarnedSQL = `
INSERT INTO earned_certifications (id, profile_id, certification_id, earned_on, expires_on, created_at)
SELECT pg_temp.u('re:' || i || ':' || j), pg_temp.u('rp:' || i), c.id,
       CASE WHEN c.fundamentals THEN $2::date - 400 ELSE (x.e - interval '1 year')::date END,
       CASE WHEN c.fundamentals THEN NULL ELSE x.e END, $2::date - 400
FROM generate_series($1 + 1, $1 + $3) i
CROSS JOIN generate_series(1, $4::int) j
CROSS JOIN LATERAL (SELECT ((pg_temp.h('rc:' || i) + j * 7) % (SELECT count(*) FROM bc))::int AS ord,
                           $2::date - 365 + (pg_temp.h('rx:' || i || ':' || j) % 730)::int AS e) x
JOIN bc c ON c.ord = x.ord`

// TopUpEarned makes sure the database holds at least total earned certifications, adding
// connected profiles with perProfile each (the reminder pass target is stated for 1,000,000).
// It returns how many it added.
func TopUpEarned(ctx context.Context, db *sqlx.DB, ref date.Date, total, perProfile int) (int, error) {
	var have int
	if err := db.GetContext(ctx, &have, `SELECT count(*) FROM earned_certifications`); err != nil {
		return 0, err
	}
	if have >= total {
		return 0, nil
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	vars := map[string]string{"{{k}}": "'rm:'", "{{seed}}": "0"}
	if _, err := conn.ExecContext(ctx, `SET synchronous_commit = off; SET TIME ZONE 'UTC'; SET jit = off;`+expand(helpersSQL, vars)); err != nil {
		return 0, err
	}
	var made int
	if err := conn.GetContext(ctx, &made, `SELECT count(*) FROM certification_profiles WHERE mcid > $1 AND mcid < $2`,
		ReminderMCIDBase, ReminderMCIDBase+40_000_000); err != nil {
		return 0, err
	}
	profiles := (total - have + perProfile - 1) / perProfile
	var n int
	if err := conn.GetContext(ctx, &n, topUpSQL, profiles, made, ref.String(), ReminderMCIDBase); err != nil {
		return 0, fmt.Errorf("top up profiles: %w", err)
	}
	if _, err := conn.ExecContext(ctx, topUpLinksSQL, made, ref.String(), profiles); err != nil {
		return 0, fmt.Errorf("top up links: %w", err)
	}
	if _, err := conn.ExecContext(ctx, topUpEarnedSQL, made, ref.String(), profiles, perProfile); err != nil {
		return 0, fmt.Errorf("top up earned: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `ANALYZE earned_certifications, certification_profiles, accounts, profile_links`); err != nil {
		return 0, err
	}
	return profiles * perProfile, nil
}
