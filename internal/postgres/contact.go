package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/certprofile"
)

// SetPreferredLanguage sets a profile's preferred language and that of its unsent reminders.
func (s CertProfile) SetPreferredLanguage(ctx context.Context, profileID uuid.UUID, lang *string) (certprofile.Profile, error) {
	var r profileRow
	if err := s.get(ctx, &r, `UPDATE certification_profiles p SET preferred_language = $2 WHERE p.id = $1
RETURNING `+ProfileColumns, profileID, lang); err != nil {
		return certprofile.Profile{}, notFound(err, "certification profile")
	}
	if err := s.updateQueuedReminders(ctx, profileID, r.Email, r.PreferredLanguage); err != nil {
		return certprofile.Profile{}, err
	}
	return r.domain(), nil
}

// updateQueuedReminders gives a profile's reminders not yet sent (nor cancelled) its current
// contact email and language: they were copied when the reminder was queued.
func (s CertProfile) updateQueuedReminders(ctx context.Context, profileID uuid.UUID, email string, lang *string) error {
	if _, err := s.exec(ctx, `UPDATE notifications n SET email = $2, language = $3
FROM earned_certifications e
WHERE e.id = n.earned_certification_id AND e.profile_id = $1 AND n.sent_at IS NULL AND n.cancelled_at IS NULL`,
		profileID, email, lang); err != nil {
		return fmt.Errorf("update queued reminders: %w", err)
	}
	return nil
}

// SetLegalName sets a profile's legal name.
func (s CertProfile) SetLegalName(ctx context.Context, profileID uuid.UUID, name string) (certprofile.Profile, error) {
	var r profileRow
	if err := s.get(ctx, &r, `UPDATE certification_profiles p SET legal_name = $2 WHERE p.id = $1
RETURNING `+ProfileColumns, profileID, name); err != nil {
		return certprofile.Profile{}, notFound(err, "certification profile")
	}
	return r.domain(), nil
}

// SetProfileEmail makes email the contact email, keeps old as an alternate and points unsent
// reminders at email.
func (s CertProfile) SetProfileEmail(ctx context.Context, profileID uuid.UUID, email, old string, now time.Time) (certprofile.Profile, error) {
	var r profileRow
	if err := s.get(ctx, &r, `UPDATE certification_profiles p SET email = $2 WHERE p.id = $1
RETURNING `+ProfileColumns, profileID, email); err != nil {
		return certprofile.Profile{}, notFound(err, "certification profile")
	}
	if _, err := s.exec(ctx, `DELETE FROM profile_alternate_emails WHERE profile_id = $1 AND lower(email) = lower($2)`,
		profileID, email); err != nil {
		return certprofile.Profile{}, fmt.Errorf("drop alternate: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO profile_alternate_emails (profile_id, email, added_at)
VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, profileID, old, now); err != nil {
		return certprofile.Profile{}, fmt.Errorf("keep old email: %w", err)
	}
	if err := s.updateQueuedReminders(ctx, profileID, r.Email, r.PreferredLanguage); err != nil {
		return certprofile.Profile{}, err
	}
	return r.domain(), nil
}

// RevokeOpenEmailChanges revokes a profile's pending email changes and cancels their
// undelivered verification emails.
func (s CertProfile) RevokeOpenEmailChanges(ctx context.Context, profileID uuid.UUID, now time.Time) error {
	_, err := s.exec(ctx, `
WITH revoked AS (
    UPDATE contact_email_changes SET revoked_at = $2
    WHERE profile_id = $1 AND confirmed_at IS NULL AND revoked_at IS NULL
    RETURNING id
)
UPDATE verification_emails v SET cancelled_at = $2, code = NULL
FROM revoked WHERE v.change_id = revoked.id AND v.sent_at IS NULL AND v.cancelled_at IS NULL`, profileID, now)
	return err
}

type emailChangeRow struct {
	ID          uuid.UUID `db:"id"`
	ProfileID   uuid.UUID `db:"profile_id"`
	Email       string    `db:"email"`
	CodeHash    []byte    `db:"code_hash"`
	RequestedBy string    `db:"requested_by"`
	CreatedAt   time.Time `db:"created_at"`
	ExpiresAt   time.Time `db:"expires_at"`
	Failed      int       `db:"failed_codes"`
}

func (r emailChangeRow) domain() certprofile.EmailChange {
	return certprofile.EmailChange{ID: r.ID, ProfileID: r.ProfileID, Email: r.Email, CodeHash: r.CodeHash,
		RequestedBy: r.RequestedBy, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Failed: r.Failed}
}

const emailChangeColumns = `id, profile_id, email, code_hash, requested_by, created_at, expires_at, failed_codes`

// InsertEmailChange stores a pending email change.
func (s CertProfile) InsertEmailChange(ctx context.Context, c certprofile.EmailChange) (certprofile.EmailChange, error) {
	var r emailChangeRow
	if err := s.get(ctx, &r, `INSERT INTO contact_email_changes (profile_id, email, code_hash, requested_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+emailChangeColumns,
		c.ProfileID, c.Email, c.CodeHash, c.RequestedBy, c.CreatedAt, c.ExpiresAt); err != nil {
		return certprofile.EmailChange{}, fmt.Errorf("insert email change: %w", err)
	}
	return r.domain(), nil
}

// QueueVerificationEmail writes the outbox row of a change's code, due at once.
func (s CertProfile) QueueVerificationEmail(ctx context.Context, v certprofile.VerificationEmail) error {
	_, err := s.exec(ctx, `INSERT INTO verification_emails (change_id, email, code, legal_name, language, expires_at,
    created_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, v.ChangeID, v.Email, v.Code, v.LegalName, v.Language, v.ExpiresAt, v.CreatedAt)
	return err
}

// LockOpenEmailChange locks a profile's pending email change. Codes: NOT_FOUND.
func (s CertProfile) LockOpenEmailChange(ctx context.Context, profileID uuid.UUID) (certprofile.EmailChange, error) {
	var r emailChangeRow
	if err := s.get(ctx, &r, `SELECT `+emailChangeColumns+` FROM contact_email_changes
WHERE profile_id = $1 AND confirmed_at IS NULL AND revoked_at IS NULL FOR UPDATE`, profileID); err != nil {
		return certprofile.EmailChange{}, notFound(err, "email change")
	}
	return r.domain(), nil
}

// RecordWrongEmailCode counts one wrong code.
func (s CertProfile) RecordWrongEmailCode(ctx context.Context, id uuid.UUID) (int, error) {
	var n int
	err := s.get(ctx, &n, `UPDATE contact_email_changes SET failed_codes = failed_codes + 1 WHERE id = $1
RETURNING failed_codes`, id)
	return n, err
}

// ConfirmEmailChange marks a change confirmed; an undelivered verification email of it is
// cancelled (its code has been used).
func (s CertProfile) ConfirmEmailChange(ctx context.Context, id uuid.UUID, now time.Time) error {
	if _, err := s.exec(ctx, `UPDATE contact_email_changes SET confirmed_at = $2 WHERE id = $1`, id, now); err != nil {
		return err
	}
	_, err := s.exec(ctx, `UPDATE verification_emails SET cancelled_at = $2, code = NULL
WHERE change_id = $1 AND sent_at IS NULL AND cancelled_at IS NULL`, id, now)
	return err
}
