package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/team"
)

// InTx runs fn in one transaction (see Store.InTx).
func (s Team) InTx(ctx context.Context, fn func(tx team.Store) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(Team{tx}) })
}

// LockProfile locks a certification profile row. Codes: NOT_FOUND.
func (s Team) LockProfile(ctx context.Context, id uuid.UUID) (certprofile.Profile, error) {
	return CertProfile{s.Store}.LockProfile(ctx, id)
}

// ProfileOf loads a certification profile. Codes: NOT_FOUND.
func (s Team) ProfileOf(ctx context.Context, id uuid.UUID) (certprofile.Profile, error) {
	list, errs := CertProfile{s.Store}.ProfilesByIDs(ctx, []uuid.UUID{id})
	if len(errs) > 0 && errs[0] != nil {
		return certprofile.Profile{}, errs[0]
	}
	return *list[0], nil
}

type grantRow struct {
	ID             uuid.UUID  `db:"id"`
	ProfileID      uuid.UUID  `db:"certification_profile_id"`
	TenantID       string     `db:"tenant_id"`
	GrantedBy      string     `db:"granted_by"`
	GrantedAt      time.Time  `db:"granted_at"`
	RevokedAt      *time.Time `db:"revoked_at"`
	AccessCount    int64      `db:"access_count"`
	LastAccessedAt *time.Time `db:"last_accessed_at"`
}

func (r grantRow) domain() team.Grant {
	return team.Grant{ID: r.ID, ProfileID: r.ProfileID, TenantID: r.TenantID, GrantedBy: r.GrantedBy,
		GrantedAt: r.GrantedAt.UTC(), RevokedAt: notifyUTC(r.RevokedAt), AccessCount: r.AccessCount,
		LastAccessedAt: notifyUTC(r.LastAccessedAt)}
}

const grantColumns = `id, certification_profile_id, tenant_id, granted_by, granted_at, revoked_at, access_count, last_accessed_at`

// LiveGrant is the unrevoked grant of a profile to a tenant, or nil.
func (s Team) LiveGrant(ctx context.Context, profileID uuid.UUID, tenantID string) (*team.Grant, error) {
	var r grantRow
	err := s.get(ctx, &r, `SELECT `+grantColumns+` FROM team_access_grants
WHERE certification_profile_id = $1 AND tenant_id = $2 AND revoked_at IS NULL`, profileID, tenantID)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("live grant: %w", err)
	}
	g := r.domain()
	return &g, nil
}

// CountLiveGrants counts the unrevoked grants of a profile.
func (s Team) CountLiveGrants(ctx context.Context, profileID uuid.UUID) (int, error) {
	var n int
	err := s.get(ctx, &n, `SELECT count(*) FROM team_access_grants WHERE certification_profile_id = $1 AND revoked_at IS NULL`, profileID)
	return n, err
}

// InsertGrant stores a new grant.
func (s Team) InsertGrant(ctx context.Context, g team.Grant) (team.Grant, error) {
	var r grantRow
	if err := s.get(ctx, &r, `INSERT INTO team_access_grants (certification_profile_id, tenant_id, granted_by, granted_at)
VALUES ($1, $2, $3, $4) RETURNING `+grantColumns, g.ProfileID, g.TenantID, g.GrantedBy, g.GrantedAt); err != nil {
		return team.Grant{}, fmt.Errorf("insert grant: %w", err)
	}
	return r.domain(), nil
}

// GrantByID loads a grant. Codes: NOT_FOUND.
func (s Team) GrantByID(ctx context.Context, id uuid.UUID) (team.Grant, error) {
	var r grantRow
	if err := s.get(ctx, &r, `SELECT `+grantColumns+` FROM team_access_grants WHERE id = $1`, id); err != nil {
		return team.Grant{}, notFound(err, "team access grant")
	}
	return r.domain(), nil
}

// RevokeGrant sets revoked_at unless it is set already.
func (s Team) RevokeGrant(ctx context.Context, id uuid.UUID, at time.Time) (team.Grant, error) {
	var r grantRow
	if err := s.get(ctx, &r, `UPDATE team_access_grants SET revoked_at = COALESCE(revoked_at, $2)
WHERE id = $1 RETURNING `+grantColumns, id, at); err != nil {
		return team.Grant{}, notFound(err, "team access grant")
	}
	return r.domain(), nil
}

// GrantsByProfileIDs lists each profile's grants, live ones first, newest first.
func (s Team) GrantsByProfileIDs(ctx context.Context, ids []uuid.UUID) ([][]team.Grant, error) {
	var rows []grantRow
	if err := s.sel(ctx, &rows, `SELECT `+grantColumns+` FROM (
    SELECT g.*, row_number() OVER (PARTITION BY certification_profile_id
                                   ORDER BY revoked_at IS NOT NULL, granted_at DESC, id) AS n
    FROM team_access_grants g WHERE certification_profile_id = ANY($1)) g
WHERE n <= $2 ORDER BY revoked_at IS NOT NULL, granted_at DESC, id`, pq.Array(ids), team.ListedGrants); err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	at := make(map[uuid.UUID]int, len(ids))
	for i, id := range ids {
		at[id] = i
	}
	out := make([][]team.Grant, len(ids))
	for _, r := range rows {
		i := at[r.ProfileID]
		out[i] = append(out[i], r.domain())
	}
	for i := range out {
		if out[i] == nil {
			out[i] = []team.Grant{}
		}
	}
	return out, nil
}

// LockTenant takes a transaction-scoped advisory lock on the tenant's team reads.
func (s Team) LockTenant(ctx context.Context, tenantID string) error {
	_, err := s.exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('team:' || $1, 0))`, tenantID)
	return err
}

// teamMembersSQL is a team list in one statement: the page of members ($6 rows, all when
// NULL) of tenant $1 after the keyset position ($4, $5), ordered by legal name, or, with an
// expiry filter ($2: the last expiry day kept, $3: today), by the nearest current expiry in
// (today, $2]; the first $8 of them (all when NULL) get one access counted at $7; then each
// member's current earned certifications, nearest expiry first, the first $9. The count is a data-modifying
// CTE that the result joins, so it completes before the first row is returned.
const teamMembersSQL = `
WITH page AS (
    SELECT g.id AS grant_id, p.id AS profile_id, p.mcid, p.legal_name, k.sort_key,
           row_number() OVER (ORDER BY k.sort_key COLLATE "C", g.id) AS n
    FROM team_access_grants g
    JOIN certification_profiles p ON p.id = g.certification_profile_id AND p.status = 'ACTIVE'
    CROSS JOIN LATERAL (
        SELECT CASE WHEN $2::date IS NULL THEN p.legal_name ELSE (
            SELECT to_char(min(e.expires_on), 'YYYY-MM-DD') FROM earned_certifications e
            WHERE e.profile_id = p.id AND e.superseded_at IS NULL
              AND e.expires_on > $3::date AND e.expires_on <= $2::date) END AS sort_key
    ) k
    WHERE g.tenant_id = $1 AND g.revoked_at IS NULL AND k.sort_key IS NOT NULL
      AND ($4::text IS NULL OR k.sort_key COLLATE "C" > $4::text COLLATE "C"
           OR (k.sort_key = $4::text AND g.id > $5::uuid))
    ORDER BY k.sort_key COLLATE "C", g.id
    LIMIT $6
), counted AS (
    UPDATE team_access_grants g SET access_count = g.access_count + 1, last_accessed_at = $7
    FROM page WHERE g.id = page.grant_id AND ($8::bigint IS NULL OR page.n <= $8)
    RETURNING g.id
)
SELECT page.grant_id, page.profile_id, page.mcid, page.legal_name, page.sort_key,
       ec.id, ec.earned_on, ec.expires_on, ec.code, ec.name, ec.level
FROM page
LEFT JOIN (SELECT count(*) AS n FROM counted) done ON true
LEFT JOIN LATERAL (
    SELECT e.id, e.earned_on, e.expires_on, c.code, c.name, c.level
    FROM earned_certifications e JOIN certifications c ON c.id = e.certification_id
    WHERE e.profile_id = page.profile_id AND e.superseded_at IS NULL
    ORDER BY e.expires_on NULLS LAST, c.code, e.id
    LIMIT $9
) ec ON true
ORDER BY page.sort_key COLLATE "C", page.grant_id, ec.expires_on NULLS LAST, ec.code, ec.id`

// Members runs q (see team.Store) and streams its members to fn.
func (s Team) Members(ctx context.Context, q team.Query, at time.Time, fn func(team.Member) error) (err error) {
	var afterKey *string
	var afterID *uuid.UUID
	if q.After != nil {
		afterKey, afterID = &q.After.Key, &q.After.GrantID
	}
	var limit, shown *int
	if q.Limit > 0 {
		l, n := q.Limit, q.Shown()
		limit, shown = &l, &n
	}
	rows, err := s.q.QueryContext(ctx, teamMembersSQL, q.TenantID, q.ExpiringThrough, q.Today, afterKey, afterID, limit, at, shown, team.ListedCertifications)
	if err != nil {
		return fmt.Errorf("team members: %w", mapError(err))
	}
	defer func() {
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
	}()
	var cur *team.Member
	for rows.Next() {
		var m team.Member
		var earnedID *uuid.UUID
		var earnedOn, expiresOn *date.Date
		var code, name, level *string
		if err := rows.Scan(&m.GrantID, &m.ProfileID, &m.MCID, &m.LegalName, &m.Position.Key,
			&earnedID, &earnedOn, &expiresOn, &code, &name, &level); err != nil {
			return fmt.Errorf("scan team member: %w", err)
		}
		if cur == nil || cur.GrantID != m.GrantID {
			if cur != nil {
				if err := fn(*cur); err != nil {
					return err
				}
			}
			m.Position.GrantID = m.GrantID
			m.Certifications = []team.Certification{}
			cur = &m
		}
		if earnedID != nil {
			cur.Certifications = append(cur.Certifications, memberCertification(*earnedID, *earnedOn, expiresOn, *code, *name, *level))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("team members: %w", mapError(err))
	}
	if cur != nil {
		return fn(*cur)
	}
	return nil
}

// memberCertification is a current earned certification as read; the team domain adds its
// status on the day of the read.
func memberCertification(id uuid.UUID, earnedOn date.Date, expiresOn *date.Date, code, name, level string) team.Certification {
	return team.Certification{EarnedID: id, Code: code, Name: name, Level: catalog.Level(level), EarnedOn: earnedOn, ExpiresOn: expiresOn}
}
