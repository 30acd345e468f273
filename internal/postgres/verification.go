package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/internal/notify"
)

// verificationClaimSQL locks the oldest due verification email no other sender holds
// (verification_emails_pending_idx), as notifyClaimSQL does for reminders.
const verificationClaimSQL = `
SELECT v.id, v.email, v.code, v.legal_name, v.language, v.expires_at, v.delivery_attempts
FROM verification_emails v
WHERE v.sent_at IS NULL AND v.cancelled_at IS NULL AND v.next_attempt_at <= $1
ORDER BY v.next_attempt_at
LIMIT 1
FOR UPDATE SKIP LOCKED`

type verificationRow struct {
	ID        uuid.UUID `db:"id"`
	Email     string    `db:"email"`
	Code      string    `db:"code"`
	LegalName string    `db:"legal_name"`
	Language  *string   `db:"language"`
	ExpiresAt time.Time `db:"expires_at"`
	Attempts  int       `db:"delivery_attempts"`
}

// ClaimVerification opens a transaction and locks one due verification email (notify.Store).
func (s Notify) ClaimVerification(ctx context.Context, now time.Time, hold time.Duration) (notify.VerificationClaim, error) {
	var r verificationRow
	tx, err := s.claimRow(ctx, hold, &r, verificationClaimSQL, now)
	if tx == nil || err != nil {
		return nil, err
	}
	return &verificationClaim{tx: tx, v: notify.Verification{ID: r.ID, Email: r.Email, Code: r.Code,
		LegalName: r.LegalName, Language: r.Language, ExpiresAt: r.ExpiresAt.UTC(), Attempts: r.Attempts}}, nil
}

// verificationClaim is a verification email locked by an open transaction.
type verificationClaim struct {
	tx   *sqlx.Tx
	v    notify.Verification
	done bool
}

func (c *verificationClaim) Verification() notify.Verification { return c.v }

func (c *verificationClaim) MarkSent(ctx context.Context, at time.Time) error {
	return finishClaim(ctx, c.tx, &c.done, `UPDATE verification_emails
SET sent_at = $2, code = NULL, delivery_attempts = delivery_attempts + 1
WHERE id = $1 AND sent_at IS NULL`, c.v.ID, at)
}

func (c *verificationClaim) MarkFailed(ctx context.Context, at, next time.Time, lastError string) error {
	return finishClaim(ctx, c.tx, &c.done, `UPDATE verification_emails
SET delivery_attempts = delivery_attempts + 1, last_error = $2, next_attempt_at = $3
WHERE id = $1 AND sent_at IS NULL`, c.v.ID, lastError, next)
}

func (c *verificationClaim) Cancel(ctx context.Context, at time.Time) error {
	return finishClaim(ctx, c.tx, &c.done, `UPDATE verification_emails SET cancelled_at = $2, code = NULL
WHERE id = $1 AND sent_at IS NULL`, c.v.ID, at)
}

func (c *verificationClaim) Release() {
	if !c.done {
		c.done = true
		_ = c.tx.Rollback()
	}
}
