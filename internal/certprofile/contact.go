package certprofile

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
)

// The contact-detail rules of issue 13 part 4 (every reminder goes to the contact email).
const (
	// EmailCodeTTL is how long an emailed verification code works (chosen: long enough for a
	// delayed delivery and its retries, short enough that an old email is useless).
	EmailCodeTTL = time.Hour
	// MaxEmailCodeGuesses wrong codes lock a change request; the learner requests a new code.
	MaxEmailCodeGuesses = 5
	// emailCodeDigits is the length of the numeric code a person types from the email.
	emailCodeDigits = 6
	// maxReason bounds a support reason, like a merge's.
	maxReason = 2000
	// maxTicket bounds a support ticket reference.
	maxTicket = 200
)

// The audit actions of contact details.
const (
	ActionEmailChangeRequest = "profile.email_change.request"
	ActionEmailChange        = "profile.email_change.confirm"
	ActionLegalNameCorrect   = "profile.legal_name.correct"
)

// DefaultReminderLanguages are the languages of the reminder templates (internal/notify), used
// when the service is not told (ReminderLanguages).
var DefaultReminderLanguages = []string{"en", "ja"}

// EmailChange is a requested contact email change waiting for its code. Only the SHA-256 of
// the code is kept here; the verification email carries the code until it is delivered.
type EmailChange struct {
	ID          uuid.UUID
	ProfileID   uuid.UUID
	Email       string
	CodeHash    []byte
	RequestedBy string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	Failed      int
}

// VerificationEmail is the outbox row that sends a change's code to the new address.
type VerificationEmail struct {
	ChangeID  uuid.UUID
	Email     string
	Code      string
	LegalName string
	Language  *string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// PendingEmail is what a learner sees after requesting a change.
type PendingEmail struct {
	Profile   Profile
	Email     string
	ExpiresAt time.Time
}

// reminderLanguages returns the languages a preferred language may be.
func (s *Service) reminderLanguages() []string {
	if len(s.ReminderLanguages) > 0 {
		return s.ReminderLanguages
	}
	return DefaultReminderLanguages
}

// UpdateProfile sets the owner's preferred language, the language of reminder emails (issue 13
// part 4): one the reminder templates have. nil leaves it unchanged; "" clears it (reminders
// then use English). Reminders already queued but not sent take the new language.
// Codes: UNAUTHENTICATED, NOT_FOUND, FORBIDDEN (support), PROFILE_ALREADY_MERGED,
// BAD_USER_INPUT (extensions availableLanguages).
func (s *Service) UpdateProfile(ctx context.Context, p *auth.Principal, profileID uuid.UUID, preferredLanguage *string) (Profile, error) {
	if p == nil {
		return Profile{}, apperr.Unauth("sign in to change a certification profile")
	}
	var lang *string
	clear := false
	if preferredLanguage != nil {
		raw := strings.TrimSpace(*preferredLanguage)
		if raw == "" {
			clear = true
		} else {
			l, ok := s.matchReminderLanguage(raw)
			if !ok {
				return Profile{}, apperr.Invalid("preferredLanguage must be one of the languages of reminder emails: %s",
					strings.Join(s.reminderLanguages(), ", ")).With("availableLanguages", slices.Clone(s.reminderLanguages()))
			}
			lang = &l
		}
	}
	var out Profile
	err := s.store.InTx(ctx, func(tx Store) error {
		prof, err := ownedForChange(ctx, tx, p, profileID)
		if err != nil {
			return err
		}
		out = prof
		if lang == nil && !clear {
			return nil
		}
		out, err = tx.SetPreferredLanguage(ctx, profileID, lang)
		return err
	})
	if err != nil {
		return Profile{}, fmt.Errorf("update profile: %w", err)
	}
	return out, nil
}

// matchReminderLanguage returns the reminder language raw names (a language tag, compared in
// canonical form, so "JA" is "ja"; "ja-JP" is not a template language and is refused).
func (s *Service) matchReminderLanguage(raw string) (string, bool) {
	tag, err := language.Parse(raw)
	if err != nil {
		return "", false
	}
	for _, l := range s.reminderLanguages() {
		if strings.EqualFold(tag.String(), l) {
			return l, true
		}
	}
	return "", false
}

// RequestEmailChange starts a change of the owner's contact email (issue 13 part 4): a
// numeric code is emailed to the new address through the outbox (written in the same
// transaction, delivered like reminders) and is valid for EmailCodeTTL. A new request replaces
// an earlier pending one (its code stops working). Audited on the profile, without the code.
// Codes: UNAUTHENTICATED, NOT_FOUND, FORBIDDEN (support), PROFILE_ALREADY_MERGED,
// BAD_USER_INPUT (not a plain address, or already the contact email).
func (s *Service) RequestEmailChange(ctx context.Context, p *auth.Principal, profileID uuid.UUID, email string) (PendingEmail, error) {
	if p == nil {
		return PendingEmail{}, apperr.Unauth("sign in to change a contact email")
	}
	email = strings.TrimSpace(email)
	if !plainEmail(email) {
		return PendingEmail{}, apperr.Invalid("email must be a plain address such as name@example.com").With("field", "email")
	}
	now := s.clock.Now()
	code, err := newNumericCode()
	if err != nil {
		return PendingEmail{}, err
	}
	out := PendingEmail{Email: email, ExpiresAt: now.Add(EmailCodeTTL)}
	err = s.store.InTx(ctx, func(tx Store) error {
		prof, err := ownedForChange(ctx, tx, p, profileID)
		if err != nil {
			return err
		}
		if strings.EqualFold(prof.Email, email) {
			return apperr.Invalid("%s is already the contact email", email).With("field", "email")
		}
		out.Profile = prof
		if err := tx.RevokeOpenEmailChanges(ctx, profileID, now); err != nil {
			return fmt.Errorf("revoke earlier changes: %w", err)
		}
		c, err := tx.InsertEmailChange(ctx, EmailChange{ProfileID: profileID, Email: email, CodeHash: hashCode(code),
			RequestedBy: p.Identity(), CreatedAt: now, ExpiresAt: out.ExpiresAt})
		if err != nil {
			return fmt.Errorf("insert email change: %w", err)
		}
		if err := tx.QueueVerificationEmail(ctx, VerificationEmail{ChangeID: c.ID, Email: email, Code: code,
			LegalName: prof.LegalName, Language: prof.PreferredLanguage, ExpiresAt: out.ExpiresAt, CreatedAt: now}); err != nil {
			return fmt.Errorf("queue verification email: %w", err)
		}
		return recordDetail(ctx, tx, ActionEmailChangeRequest, p, now, profileID, nil, nil,
			map[string]any{"changeId": c.ID, "email": email, "expiresAt": out.ExpiresAt.UTC().Format(time.RFC3339Nano)})
	})
	if err != nil {
		return PendingEmail{}, fmt.Errorf("request email change: %w", err)
	}
	return out, nil
}

// ConfirmEmailChange makes the pending address the contact email when code is right, keeps
// the old one as an alternate (it still finds the profile in support search) and points
// reminders not yet sent at the new address. Codes are single-use and expire; each wrong code
// counts, and after MaxEmailCodeGuesses wrong ones the request is locked even for the right
// code: the learner requests a new one. The profile row is locked first, so concurrent
// confirmations and guesses are counted one after the other: one right code confirms once.
// A wrong guess is committed (the count must survive the refusal).
// Codes: UNAUTHENTICATED, NOT_FOUND (profile, or no pending change: none, used, replaced or
// expired), FORBIDDEN (support), PROFILE_ALREADY_MERGED, BAD_USER_INPUT (wrong code, or locked;
// extensions attemptsLeft).
func (s *Service) ConfirmEmailChange(ctx context.Context, p *auth.Principal, profileID uuid.UUID, code string) (Profile, error) {
	if p == nil {
		return Profile{}, apperr.Unauth("sign in to change a contact email")
	}
	now := s.clock.Now()
	var out Profile
	var refused error
	err := s.store.InTx(ctx, func(tx Store) error {
		refused = nil
		prof, err := ownedForChange(ctx, tx, p, profileID)
		if err != nil {
			return err
		}
		c, err := tx.LockOpenEmailChange(ctx, profileID)
		if apperr.CodeOf(err) == apperr.NotFound || (err == nil && !now.Before(c.ExpiresAt)) {
			return apperr.Missing("pending contact email change (none requested, already confirmed or expired)")
		}
		if err != nil {
			return err
		}
		if c.Failed >= MaxEmailCodeGuesses {
			refused = apperr.Invalid("too many wrong codes; request a new code").With("attemptsLeft", 0)
			return nil
		}
		if subtle.ConstantTimeCompare(hashCode(code), c.CodeHash) != 1 {
			failed, err := tx.RecordWrongEmailCode(ctx, c.ID)
			if err != nil {
				return err
			}
			left := max(MaxEmailCodeGuesses-failed, 0)
			refused = apperr.Invalid("the code is wrong; %d tries left", left).With("attemptsLeft", left)
			return nil
		}
		if err := tx.ConfirmEmailChange(ctx, c.ID, now); err != nil {
			return fmt.Errorf("confirm email change: %w", err)
		}
		if out, err = tx.SetProfileEmail(ctx, profileID, c.Email, prof.Email, now); err != nil {
			return fmt.Errorf("set contact email: %w", err)
		}
		return recordDetail(ctx, tx, ActionEmailChange, p, now, profileID, nil, nil,
			map[string]any{"changeId": c.ID, "from": prof.Email, "to": c.Email})
	})
	if err != nil {
		return Profile{}, fmt.Errorf("confirm email change: %w", err)
	}
	if refused != nil {
		return Profile{}, refused
	}
	return out, nil
}

// CorrectLegalName changes a profile's legal name for support (issue 13 part 4: legal names
// match ID documents, and learners ask support to change them), with a required reason and an
// optional ticket, audited (from, to) on the profile.
// Codes: UNAUTHENTICATED, FORBIDDEN (not support), BAD_USER_INPUT (name, reason or ticket;
// the same name), NOT_FOUND, PROFILE_ALREADY_MERGED.
func (s *Service) CorrectLegalName(ctx context.Context, p *auth.Principal, profileID uuid.UUID, legalName, reason string, ticket *string) (Profile, error) {
	if p == nil {
		return Profile{}, apperr.Unauth("sign in to correct a legal name")
	}
	if !p.HasRole(auth.RoleSupport) {
		return Profile{}, apperr.Deny("only support corrects legal names; contact support with your ID document")
	}
	valid, err := validate(NewProfile{LegalName: legalName, Email: "x@x"})
	if err != nil {
		return Profile{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxReason {
		return Profile{}, apperr.Invalid("reason must be 1 to %d characters", maxReason).With("field", "reason")
	}
	if ticket != nil {
		t := strings.TrimSpace(*ticket)
		if utf8.RuneCountInString(t) > maxTicket {
			return Profile{}, apperr.Invalid("ticket must be at most %d characters", maxTicket).With("field", "ticket")
		}
		ticket = &t
		if t == "" {
			ticket = nil
		}
	}
	now := s.clock.Now()
	var out Profile
	err = s.store.InTx(ctx, func(tx Store) error {
		prof, err := tx.LockProfile(ctx, profileID)
		if err != nil {
			return err
		}
		if prof.Status == StatusMerged {
			return apperr.E(apperr.ProfileAlreadyMerged,
				"this certification profile was merged into another one; correct the profile it was merged into")
		}
		if prof.LegalName == valid.LegalName {
			return apperr.Invalid("the legal name is already %q", valid.LegalName).With("field", "legalName")
		}
		if out, err = tx.SetLegalName(ctx, profileID, valid.LegalName); err != nil {
			return fmt.Errorf("set legal name: %w", err)
		}
		return recordDetail(ctx, tx, ActionLegalNameCorrect, p, now, profileID, &reason, ticket,
			map[string]any{"from": prof.LegalName, "to": valid.LegalName})
	})
	if err != nil {
		return Profile{}, fmt.Errorf("correct legal name: %w", err)
	}
	return out, nil
}

// newNumericCode returns a uniformly random code of emailCodeDigits digits.
func newNumericCode() (string, error) {
	limit := big.NewInt(1)
	for range emailCodeDigits {
		limit.Mul(limit, big.NewInt(10))
	}
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", fmt.Errorf("random code: %w", err)
	}
	return fmt.Sprintf("%0*d", emailCodeDigits, n), nil
}

// recordDetail writes the audit event of action on profileID by p, with the reason and ticket
// support gave (nil for learner actions) and details.
func recordDetail(ctx context.Context, tx Store, action string, p *auth.Principal, now time.Time, profileID uuid.UUID,
	reason, ticket *string, details map[string]any) error {
	ev, err := audit.New(action, p.Identity(), details, now, profileID)
	if err != nil {
		return err
	}
	ev.Reason, ev.Ticket = reason, ticket
	_, err = tx.InsertAudit(ctx, ev)
	return err
}
