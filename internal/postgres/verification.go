package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/notify"
)

// verificationClaimSQL leases the oldest due verification email no other sender is claiming
// (verification_emails_pending_idx) until $2, as notifyClaimSQL does for reminders.
const verificationClaimSQL = `
WITH claimed AS (
    SELECT q.id FROM verification_emails q
    WHERE q.sent_at IS NULL AND q.cancelled_at IS NULL AND q.next_attempt_at <= $1
    ORDER BY q.next_attempt_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE verification_emails v SET next_attempt_at = $2
FROM claimed WHERE v.id = claimed.id
RETURNING v.id, v.email, v.code, v.legal_name, v.language, v.expires_at, v.delivery_attempts,
          v.next_attempt_at AS lease_until`

type verificationRow struct {
	ID         uuid.UUID `db:"id"`
	Email      string    `db:"email"`
	Code       string    `db:"code"`
	LegalName  string    `db:"legal_name"`
	Language   *string   `db:"language"`
	ExpiresAt  time.Time `db:"expires_at"`
	Attempts   int       `db:"delivery_attempts"`
	LeaseUntil time.Time `db:"lease_until"`
}

// ClaimVerification leases one due verification email until now + lease, in one committed
// statement (notify.Store).
func (s Notify) ClaimVerification(ctx context.Context, now time.Time, lease time.Duration) (notify.VerificationClaim, error) {
	var r verificationRow
	if err := s.get(ctx, &r, verificationClaimSQL, now, leaseEnd(now, lease)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("lease: %w", err)
	}
	return &verificationLease{s: s, until: r.LeaseUntil, v: notify.Verification{ID: r.ID, Email: r.Email, Code: r.Code,
		LegalName: r.LegalName, Language: r.Language, ExpiresAt: r.ExpiresAt.UTC(), Attempts: r.Attempts}}, nil
}

// verificationLease is a verification email leased by this sender until until (the token);
// like notifyLease, each outcome is a transaction of its own.
type verificationLease struct {
	s     Notify
	v     notify.Verification
	until time.Time
}

func (c *verificationLease) Verification() notify.Verification { return c.v }

// MarkSent records the email as sent (and forgets the code) unless it is already sent or
// cancelled, whatever lease holds it, as notifyLease.MarkSent does.
func (c *verificationLease) MarkSent(ctx context.Context, at time.Time) error {
	if _, err := c.s.exec(ctx, `UPDATE verification_emails
SET sent_at = $2, code = NULL, delivery_attempts = delivery_attempts + 1
WHERE id = $1 AND sent_at IS NULL AND cancelled_at IS NULL`, c.v.ID, at); err != nil {
		return fmt.Errorf("record sent verification email %s: %w", c.v.ID, err)
	}
	return nil
}

func (c *verificationLease) MarkFailed(ctx context.Context, at, next time.Time, lastError string) error {
	return c.s.execLeased(ctx, "verification email "+c.v.ID.String(), `UPDATE verification_emails
SET delivery_attempts = delivery_attempts + 1, last_error = $3, next_attempt_at = $4
WHERE id = $1 AND next_attempt_at = $2 AND sent_at IS NULL AND cancelled_at IS NULL`, c.v.ID, c.until, lastError, next)
}

func (c *verificationLease) Cancel(ctx context.Context, at time.Time) error {
	return c.s.execLeased(ctx, "verification email "+c.v.ID.String(), `UPDATE verification_emails
SET cancelled_at = $3, code = NULL
WHERE id = $1 AND next_attempt_at = $2 AND sent_at IS NULL AND cancelled_at IS NULL`, c.v.ID, c.until, at)
}
