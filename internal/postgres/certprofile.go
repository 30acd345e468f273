package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/certprofile"
)

// Profiles adapts the Store to certprofile.Store.
type Profiles struct{ *Store }

var _ certprofile.Store = Profiles{}

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
func (s Profiles) InsertProfile(ctx context.Context, p certprofile.Profile) (certprofile.Profile, error) {
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
func (s Profiles) ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Profile, []error) {
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
func (s Profiles) ProfileByMCID(ctx context.Context, mcid int64) (certprofile.Profile, error) {
	var r profileRow
	if err := s.get(ctx, &r, profileByMCIDSQL, mcid); err != nil {
		return certprofile.Profile{}, notFound(err, "certification profile")
	}
	return r.domain(), nil
}

// ProfilesByAccount lists an account's profiles, oldest first.
func (s Profiles) ProfilesByAccount(ctx context.Context, accountID uuid.UUID) ([]certprofile.Profile, error) {
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
