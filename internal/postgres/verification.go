package postgres

import (
	"context"
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
	if ok, err := s.leaseRow(ctx, &r, verificationClaimSQL, now, lease); !ok {
		return nil, err
	}
	return &verificationLease{outboxLease: s.emailLease("verification_emails", r.ID, r.LeaseUntil),
		v: notify.Verification{ID: r.ID, Email: r.Email, Code: r.Code, LegalName: r.LegalName, Language: r.Language,
			ExpiresAt: r.ExpiresAt.UTC(), Attempts: r.Attempts}}, nil
}

// verificationLease is a leased verification email (notify.VerificationClaim); once it is
// sent or cancelled its code is forgotten.
type verificationLease struct {
	outboxLease
	v notify.Verification
}

func (c *verificationLease) Verification() notify.Verification { return c.v }

func (c *verificationLease) MarkSent(ctx context.Context, at time.Time) error {
	return c.markSent(ctx, at, ", code = NULL")
}

func (c *verificationLease) Cancel(ctx context.Context, at time.Time) error {
	return c.guarded(ctx, `cancelled_at = $3, code = NULL`, at)
}
