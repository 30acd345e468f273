package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/certprofile"
)

type transferRow struct {
	ID            uuid.UUID  `db:"id"`
	ProfileID     uuid.UUID  `db:"profile_id"`
	FromAccountID uuid.UUID  `db:"from_account_id"`
	CodeHash      []byte     `db:"code_hash"`
	CreatedAt     time.Time  `db:"created_at"`
	ExpiresAt     time.Time  `db:"expires_at"`
	CompletedAt   *time.Time `db:"completed_at"`
	ToAccountID   *uuid.UUID `db:"to_account_id"`
	RevokedAt     *time.Time `db:"revoked_at"`
}

func (r transferRow) domain() certprofile.Transfer {
	return certprofile.Transfer{ID: r.ID, ProfileID: r.ProfileID, FromAccountID: r.FromAccountID, CodeHash: r.CodeHash,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), CompletedAt: notifyUTC(r.CompletedAt),
		ToAccountID: r.ToAccountID, RevokedAt: notifyUTC(r.RevokedAt)}
}

const transferColumns = `id, profile_id, from_account_id, code_hash, created_at, expires_at, completed_at, to_account_id, revoked_at`

// InsertTransfer stores a started transfer.
func (s CertProfile) InsertTransfer(ctx context.Context, t certprofile.Transfer) (certprofile.Transfer, error) {
	var r transferRow
	if err := s.get(ctx, &r, `INSERT INTO profile_transfers (profile_id, from_account_id, code_hash, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5) RETURNING `+transferColumns, t.ProfileID, t.FromAccountID, t.CodeHash, t.CreatedAt, t.ExpiresAt); err != nil {
		return certprofile.Transfer{}, fmt.Errorf("insert transfer: %w", err)
	}
	return r.domain(), nil
}

// RevokeOpenTransfers marks the profile's open transfers revoked at now.
func (s CertProfile) RevokeOpenTransfers(ctx context.Context, profileID uuid.UUID, now time.Time) error {
	_, err := s.exec(ctx, `UPDATE profile_transfers SET revoked_at = $2
WHERE profile_id = $1 AND completed_at IS NULL AND revoked_at IS NULL`, profileID, now)
	return err
}

// TransferByCodeHash loads the transfer of a code hash. Codes: NOT_FOUND.
func (s CertProfile) TransferByCodeHash(ctx context.Context, hash []byte) (certprofile.Transfer, error) {
	var r transferRow
	if err := s.get(ctx, &r, `SELECT `+transferColumns+` FROM profile_transfers WHERE code_hash = $1`, hash); err != nil {
		return certprofile.Transfer{}, notFound(err, "transfer")
	}
	return r.domain(), nil
}

// LockTransfer locks one transfer row. Codes: NOT_FOUND.
func (s CertProfile) LockTransfer(ctx context.Context, id uuid.UUID) (certprofile.Transfer, error) {
	var r transferRow
	if err := s.get(ctx, &r, `SELECT `+transferColumns+` FROM profile_transfers WHERE id = $1 FOR UPDATE`, id); err != nil {
		return certprofile.Transfer{}, notFound(err, "transfer")
	}
	return r.domain(), nil
}

// CompleteTransfer records the transfer's completion.
func (s CertProfile) CompleteTransfer(ctx context.Context, id, toAccount uuid.UUID, now time.Time) error {
	res, err := s.exec(ctx, `UPDATE profile_transfers SET completed_at = $3, to_account_id = $2
WHERE id = $1 AND completed_at IS NULL AND revoked_at IS NULL`, id, toAccount, now)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("transfer %s is not open", id)
	}
	return nil
}

// SetProfileAccount moves a profile to another account. The composite foreign key of
// profile_links refuses it while the profile is connected, so the caller removes the link first.
func (s CertProfile) SetProfileAccount(ctx context.Context, profileID, accountID uuid.UUID) (certprofile.Profile, error) {
	var r profileRow
	if err := s.get(ctx, &r, `UPDATE certification_profiles p SET account_id = $2 WHERE p.id = $1
RETURNING `+ProfileColumns, profileID, accountID); err != nil {
		return certprofile.Profile{}, notFound(err, "certification profile")
	}
	return r.domain(), nil
}
