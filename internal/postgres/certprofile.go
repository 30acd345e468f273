package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/certprofile"
)

var _ certprofile.Store = CertProfile{}

type profileRow struct {
	ID                uuid.UUID  `db:"id"`
	MCID              int64      `db:"mcid"`
	AccountID         uuid.UUID  `db:"account_id"`
	LegalName         string     `db:"legal_name"`
	Email             string     `db:"email"`
	PreferredLanguage *string    `db:"preferred_language"`
	Status            string     `db:"status"`
	MergedInto        *uuid.UUID `db:"merged_into"`
	MergedAt          *time.Time `db:"merged_at"`
	CreatedAt         time.Time  `db:"created_at"`
}

func (r profileRow) domain() certprofile.Profile {
	p := certprofile.Profile{ID: r.ID, MCID: r.MCID, AccountID: r.AccountID, LegalName: r.LegalName,
		Email: r.Email, PreferredLanguage: r.PreferredLanguage, Status: certprofile.Status(r.Status),
		MergedInto: r.MergedInto, CreatedAt: r.CreatedAt.UTC()}
	if r.MergedAt != nil {
		t := r.MergedAt.UTC()
		p.MergedAt = &t
	}
	return p
}

// ProfileColumns lists certification_profiles columns for queries aliasing the table as p.
const ProfileColumns = `p.id, p.mcid, p.account_id, p.legal_name, p.email, p.preferred_language, p.status,
       p.merged_into, p.merged_at, p.created_at`

// InsertProfile stores a new profile; the MCID comes from mcid_seq.
func (s CertProfile) InsertProfile(ctx context.Context, p certprofile.Profile) (certprofile.Profile, error) {
	var r profileRow
	err := s.get(ctx, &r, `
INSERT INTO certification_profiles AS p (account_id, legal_name, email, preferred_language, status, created_at)
VALUES ($1, $2, $3, $4, 'ACTIVE', $5)
RETURNING `+ProfileColumns, p.AccountID, p.LegalName, p.Email, p.PreferredLanguage, p.CreatedAt)
	if err != nil {
		return certprofile.Profile{}, fmt.Errorf("insert profile: %w", err)
	}
	return r.domain(), nil
}

// ProfilesByIDs loads profiles in key order.
func (s CertProfile) ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Profile, []error) {
	var rows []profileRow
	if err := s.sel(ctx, &rows, `SELECT `+ProfileColumns+` FROM certification_profiles p WHERE p.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r profileRow) (uuid.UUID, certprofile.Profile) { return r.ID, r.domain() }, "certification profile")
}

// profileByMCIDSQL follows merged_into to the end of the chain (a merge target may itself be
// merged later); the depth cap guards against a cycle the merge rules already prevent.
const profileByMCIDSQL = `
WITH RECURSIVE chain AS (
    SELECT p.*, 0 AS depth FROM certification_profiles p WHERE p.mcid = $1
  UNION ALL
    SELECT p.*, c.depth + 1 FROM certification_profiles p JOIN chain c ON p.id = c.merged_into
    WHERE c.depth < 32
)
SELECT ` + ProfileColumns + ` FROM chain p ORDER BY depth DESC LIMIT 1`

// ProfileByMCID loads the current profile for an MCID, following merges.
func (s CertProfile) ProfileByMCID(ctx context.Context, mcid int64) (certprofile.Profile, error) {
	var r profileRow
	if err := s.get(ctx, &r, profileByMCIDSQL, mcid); err != nil {
		return certprofile.Profile{}, notFound(err, "certification profile")
	}
	return r.domain(), nil
}

// profileAndLinkByMCIDSQL is profileByMCIDSQL with the profile's link, if any, in the same
// statement (issue 8: the dashboard reads both).
const profileAndLinkByMCIDSQL = profileChainByMCIDSQL + `
SELECT ` + ProfileColumns + `, ` + optionalLinkColumns + `
FROM (SELECT * FROM chain ORDER BY depth DESC LIMIT 1) p
LEFT JOIN profile_links l ON l.certification_profile_id = p.id`

// profileChainByMCIDSQL walks from the profile of MCID $1 along merged_into (chain, deepest
// last): the profile an MCID names is the end of its chain.
const profileChainByMCIDSQL = `
WITH RECURSIVE chain AS (
    SELECT p.*, 0 AS depth FROM certification_profiles p WHERE p.mcid = $1
  UNION ALL
    SELECT p.*, c.depth + 1 FROM certification_profiles p JOIN chain c ON p.id = c.merged_into
    WHERE c.depth < 32
)`

// optionalLinkColumns reads a profile's link (profile_links l, LEFT JOINed: NULLs when it has
// none) into optionalLinkRow.
const optionalLinkColumns = `l.learn_profile_id AS "link.learn_profile_id", l.linked_at AS "link.linked_at"`

// optionalLinkRow is a profile's link as optionalLinkColumns reads it.
type optionalLinkRow struct {
	LearnProfileID *uuid.UUID `db:"learn_profile_id"`
	LinkedAt       *time.Time `db:"linked_at"`
}

// domain is the link of profile p, nil when it is not connected.
func (r optionalLinkRow) domain(p uuid.UUID) *certprofile.Link {
	if r.LearnProfileID == nil || r.LinkedAt == nil {
		return nil
	}
	return &certprofile.Link{LearnProfileID: *r.LearnProfileID, CertificationProfileID: p, LinkedAt: r.LinkedAt.UTC()}
}

// ProfileAndLinkByMCID is ProfileByMCID that also returns the profile's link (nil when it is
// not connected), read in the same statement.
func (s CertProfile) ProfileAndLinkByMCID(ctx context.Context, mcid int64) (certprofile.Profile, *certprofile.Link, error) {
	var r struct {
		profileRow
		Link optionalLinkRow `db:"link"`
	}
	if err := s.get(ctx, &r, profileAndLinkByMCIDSQL, mcid); err != nil {
		return certprofile.Profile{}, nil, notFound(err, "certification profile")
	}
	p := r.profileRow.domain()
	return p, r.Link.domain(p.ID), nil
}

// ProfilesByAccount lists an account's profiles, oldest first.
func (s CertProfile) ProfilesByAccount(ctx context.Context, accountID uuid.UUID) ([]certprofile.Profile, error) {
	var rows []profileRow
	if err := s.sel(ctx, &rows, `SELECT `+ProfileColumns+` FROM certification_profiles p
WHERE p.account_id = $1 ORDER BY p.created_at, p.mcid`, accountID); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	out := make([]certprofile.Profile, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// InTx runs fn in one transaction on a Profiles bound to it.
func (s CertProfile) InTx(ctx context.Context, fn func(tx certprofile.Store) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(CertProfile{tx}) })
}

const lockAccountProfilesSQL = `SELECT p.id FROM certification_profiles p WHERE p.account_id = $1 ORDER BY p.id FOR UPDATE`

// LockAccountProfiles locks an account's profiles in ascending id order, then lists them in a
// second statement. Under READ COMMITTED the locking statement's snapshot predates the wait,
// so a profile another transaction inserted and committed while this one waited for the locks
// would be missing from its result; the second statement's fresh snapshot includes it.
func (s CertProfile) LockAccountProfiles(ctx context.Context, accountID uuid.UUID) ([]certprofile.Profile, error) {
	var ids []uuid.UUID
	if err := s.sel(ctx, &ids, lockAccountProfilesSQL, accountID); err != nil {
		return nil, fmt.Errorf("lock profiles: %w", err)
	}
	return s.ProfilesByAccount(ctx, accountID)
}

// LockAccount locks an account row.
func (s CertProfile) LockAccount(ctx context.Context, accountID uuid.UUID) error {
	var id uuid.UUID
	if err := s.get(ctx, &id, `SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, accountID); err != nil {
		return notFound(err, "account")
	}
	return nil
}

// LockProfile locks one profile row and returns it.
func (s CertProfile) LockProfile(ctx context.Context, id uuid.UUID) (certprofile.Profile, error) {
	var r profileRow
	if err := s.get(ctx, &r, `SELECT `+ProfileColumns+` FROM certification_profiles p WHERE p.id = $1 FOR UPDATE`, id); err != nil {
		return certprofile.Profile{}, notFound(err, "certification profile")
	}
	return r.domain(), nil
}

// LearnProfileIDOf returns the id of an account's Learn profile.
func (s CertProfile) LearnProfileIDOf(ctx context.Context, accountID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	if err := s.get(ctx, &id, `SELECT id FROM learn_profiles WHERE account_id = $1`, accountID); err != nil {
		return uuid.Nil, notFound(err, "learn profile")
	}
	return id, nil
}

type linkRow struct {
	LearnProfileID         uuid.UUID `db:"learn_profile_id"`
	CertificationProfileID uuid.UUID `db:"certification_profile_id"`
	LinkedAt               time.Time `db:"linked_at"`
}

func (r linkRow) domain() certprofile.Link {
	return certprofile.Link{LearnProfileID: r.LearnProfileID, CertificationProfileID: r.CertificationProfileID,
		LinkedAt: r.LinkedAt.UTC()}
}

const linkColumns = `learn_profile_id, certification_profile_id, linked_at`

// LinksOf returns the link of a certification profile and the link of a Learn profile.
func (s CertProfile) LinksOf(ctx context.Context, profileID, learnProfileID uuid.UUID) (byProfile, byLearn *certprofile.Link, err error) {
	var rows []linkRow
	if err := s.sel(ctx, &rows, `SELECT `+linkColumns+` FROM profile_links
WHERE certification_profile_id = $1 OR learn_profile_id = $2`, profileID, learnProfileID); err != nil {
		return nil, nil, fmt.Errorf("load links: %w", err)
	}
	for _, r := range rows {
		l := r.domain()
		if l.CertificationProfileID == profileID {
			byProfile = &l
		}
		if l.LearnProfileID == learnProfileID {
			byLearn = &l
		}
	}
	return byProfile, byLearn, nil
}

// InsertLink stores a link; a second link of either side violates a unique constraint, which
// mapError turns into LEARN_PROFILE_ALREADY_LINKED or CERTIFICATION_PROFILE_ALREADY_LINKED.
// The row carries the certification profile's account: the foreign key to the Learn profile
// and that account refuses a Learn profile of another account (ACCOUNT_MISMATCH), and the one
// to the ACTIVE profile refuses a MERGED one (PROFILE_ALREADY_MERGED).
func (s CertProfile) InsertLink(ctx context.Context, l certprofile.Link) error {
	res, err := s.exec(ctx, `INSERT INTO profile_links (`+linkColumns+`, account_id)
SELECT $1, p.id, $3, p.account_id FROM certification_profiles p WHERE p.id = $2`,
		l.LearnProfileID, l.CertificationProfileID, l.LinkedAt)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("insert link: certification profile %s not found", l.CertificationProfileID)
	}
	return nil
}

// DeleteLink removes the link of a certification profile and returns it, or nil.
func (s CertProfile) DeleteLink(ctx context.Context, profileID uuid.UUID) (*certprofile.Link, error) {
	var rows []linkRow
	if err := s.sel(ctx, &rows, `DELETE FROM profile_links WHERE certification_profile_id = $1
RETURNING `+linkColumns, profileID); err != nil {
		return nil, fmt.Errorf("delete link: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	l := rows[0].domain()
	return &l, nil
}

type alternateEmailRow struct {
	ProfileID uuid.UUID `db:"profile_id"`
	Email     string    `db:"email"`
}

// AlternateEmailsByIDs loads each profile's alternate emails, oldest first.
func (s CertProfile) AlternateEmailsByIDs(ctx context.Context, ids []uuid.UUID) ([][]string, error) {
	var rows []alternateEmailRow
	if err := s.sel(ctx, &rows, `SELECT profile_id, email FROM profile_alternate_emails
WHERE profile_id = ANY($1) ORDER BY profile_id, added_at, email`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load alternate emails: %w", err)
	}
	out := groupByKey(ids, rows, func(r alternateEmailRow) (uuid.UUID, string) { return r.ProfileID, r.Email })
	for i := range out {
		if out[i] == nil {
			out[i] = []string{}
		}
	}
	return out, nil
}

// LinksByProfileIDs loads the link of each certification profile, nil where there is none.
func (s CertProfile) LinksByProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Link, error) {
	var rows []linkRow
	if err := s.sel(ctx, &rows, `SELECT `+linkColumns+` FROM profile_links WHERE certification_profile_id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load links: %w", err)
	}
	out, _ := inKeyOrder(ids, rows, func(r linkRow) (uuid.UUID, certprofile.Link) { return r.CertificationProfileID, r.domain() }, "link")
	return out, nil
}

// LinksByLearnProfileIDs loads the link of each Learn profile, nil where there is none.
func (s CertProfile) LinksByLearnProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Link, error) {
	var rows []linkRow
	if err := s.sel(ctx, &rows, `SELECT `+linkColumns+` FROM profile_links WHERE learn_profile_id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load links: %w", err)
	}
	out, _ := inKeyOrder(ids, rows, func(r linkRow) (uuid.UUID, certprofile.Link) { return r.LearnProfileID, r.domain() }, "link")
	return out, nil
}

// The WHERE clauses of the three search modes; $1 is the query. Each is written so that its
// index serves it: the unique MCID index, the lower(email) indexes of profiles and alternate
// emails (a UNION, not an OR, so both are used), and the trigram GIN index on
// search_fold(legal_name) (the same expression, so the planner matches it). The query is
// folded first and escaped after (likeContains).
const (
	searchByMCIDSQL  = `p.mcid = $1`
	searchByEmailSQL = `p.id IN (SELECT e.id FROM certification_profiles e WHERE lower(e.email) = lower($1)
              UNION SELECT a.profile_id FROM profile_alternate_emails a WHERE lower(a.email) = lower($1))`
)

var searchByNameSQL = `search_fold(p.legal_name) LIKE ` + likeContains(`search_fold($1)`)

// searchWhere returns the WHERE clause and its argument for q.
func searchWhere(q certprofile.Query) (string, any) {
	switch q.Mode {
	case certprofile.ByMCID:
		return searchByMCIDSQL, q.MCID
	case certprofile.ByEmail:
		return searchByEmailSQL, q.Text
	default:
		return searchByNameSQL, q.Text
	}
}

// SearchSQL returns the search query for q and its arguments ($2, $3: the keyset position,
// NULL for the first page; $4: the limit), for SearchProfiles and for tests that EXPLAIN it.
func SearchSQL(q certprofile.Query, after *certprofile.SearchKey, limit int) (string, []any) {
	where, arg := searchWhere(q)
	var fold, id any
	if after != nil {
		fold, id = after.Fold, after.ID
	}
	return `SELECT ` + ProfileColumns + `, search_fold(p.legal_name) AS sort_key
FROM certification_profiles p
WHERE ` + where + `
  AND ($2::text IS NULL OR (search_fold(p.legal_name), p.id) > ($2::text, $3::uuid))
ORDER BY search_fold(p.legal_name), p.id
LIMIT $4`, []any{arg, fold, id, limit}
}

type searchRow struct {
	profileRow
	SortKey string `db:"sort_key"`
}

// SearchProfiles returns up to limit profiles matching q after the keyset position after.
func (s CertProfile) SearchProfiles(ctx context.Context, q certprofile.Query, after *certprofile.SearchKey, limit int) ([]certprofile.Hit, error) {
	query, args := SearchSQL(q, after, limit)
	var rows []searchRow
	if err := s.sel(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("search profiles: %w", err)
	}
	out := make([]certprofile.Hit, len(rows))
	for i, r := range rows {
		out[i] = certprofile.Hit{Profile: r.profileRow.domain(), Key: certprofile.SearchKey{Fold: r.SortKey, ID: r.ID}}
	}
	return out, nil
}

// FoldSearch returns search_fold(text), the form legal names are searched in.
func (s CertProfile) FoldSearch(ctx context.Context, text string) (string, error) {
	var fold string
	if err := s.get(ctx, &fold, `SELECT search_fold($1)`, text); err != nil {
		return "", fmt.Errorf("fold search: %w", err)
	}
	return fold, nil
}

// CountProfiles counts the profiles matching q.
func (s CertProfile) CountProfiles(ctx context.Context, q certprofile.Query) (int, error) {
	where, arg := searchWhere(q)
	var n int
	if err := s.get(ctx, &n, `SELECT count(*) FROM certification_profiles p WHERE `+where, arg); err != nil {
		return 0, fmt.Errorf("count profiles: %w", err)
	}
	return n, nil
}
