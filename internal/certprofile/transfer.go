package certprofile

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/webhook"
)

// TransferTTL is how long a transfer code works (issue 13: valid for 30 minutes).
const TransferTTL = 30 * time.Minute

// The audit actions of a transfer; both are recorded on the moved profile.
const (
	ActionTransferStart    = "profile.transfer.start"
	ActionTransferComplete = "profile.transfer.complete"
)

// Transfer is a started move of a certification profile to another personal account. Only
// the SHA-256 of its code is stored: the code itself is shown once, to the owner.
type Transfer struct {
	ID            uuid.UUID
	ProfileID     uuid.UUID
	FromAccountID uuid.UUID
	CodeHash      []byte
	CreatedAt     time.Time
	ExpiresAt     time.Time
	CompletedAt   *time.Time
	ToAccountID   *uuid.UUID
	RevokedAt     *time.Time
}

// Open reports whether the transfer can still be completed at now: not completed, not
// replaced by a newer code, not expired.
func (t Transfer) Open(now time.Time) bool {
	return t.CompletedAt == nil && t.RevokedAt == nil && now.Before(t.ExpiresAt)
}

// StartedTransfer is what the owner gets: the code (shown once) and its expiry.
type StartedTransfer struct {
	Code      string
	ExpiresAt time.Time
}

// codeBytes is the entropy of a secret code: 160 bits, beyond any guessing.
const codeBytes = 20

var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSecretCode returns a random code (32 base32 characters, lower case) and its hash.
func newSecretCode() (string, []byte) {
	b := make([]byte, codeBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("certprofile: random code: %v", err))
	}
	code := strings.ToLower(codeEncoding.EncodeToString(b))
	return code, hashCode(code)
}

// hashCode is the stored form of a code. Codes are compared case-insensitively and without
// surrounding spaces, as people copy them.
func hashCode(code string) []byte {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(code))))
	return h[:]
}

// personalCaller refuses callers that cannot own a certification profile.
// Codes: UNAUTHENTICATED, PERSONAL_ACCOUNT_REQUIRED.
func personalCaller(p *auth.Principal, doing string) error {
	if p == nil {
		return apperr.Unauth("sign in to " + doing)
	}
	if p.Kind != auth.KindPersonal {
		return apperr.E(apperr.PersonalAccountRequired,
			"certification profiles belong to personal Microsoft accounts; sign in with your personal account to %s", doing)
	}
	return nil
}

// StartTransfer gives the owner of a certification profile a single-use code that moves the
// profile to the personal account that completes it within TransferTTL (issue 13, source FAQ
// 4: a learner whose certification profile and Learn profile sit on different personal
// accounts chooses one, without support). A new start replaces any unused earlier code of the
// profile. Audited on the profile (ActionTransferStart).
// Codes: UNAUTHENTICATED, PERSONAL_ACCOUNT_REQUIRED, NOT_FOUND (missing or someone else's),
// FORBIDDEN (support on a learner's profile), PROFILE_ALREADY_MERGED.
func (s *Service) StartTransfer(ctx context.Context, p *auth.Principal, profileID uuid.UUID) (StartedTransfer, error) {
	if p == nil || !p.HasRole(auth.RoleSupport) {
		if err := personalCaller(p, "move a certification profile"); err != nil {
			return StartedTransfer{}, err
		}
	}
	now := s.clock.Now()
	code, hash := newSecretCode()
	out := StartedTransfer{Code: code, ExpiresAt: now.Add(TransferTTL)}
	err := s.store.InTx(ctx, func(tx Store) error {
		prof, err := ownedForChange(ctx, tx, p, profileID)
		if err != nil {
			return err
		}
		if err := personalCaller(p, "move a certification profile"); err != nil { // support, on their own profile
			return err
		}
		if err := tx.RevokeOpenTransfers(ctx, prof.ID, now); err != nil {
			return fmt.Errorf("revoke earlier transfers: %w", err)
		}
		t, err := tx.InsertTransfer(ctx, Transfer{ProfileID: prof.ID, FromAccountID: prof.AccountID, CodeHash: hash,
			CreatedAt: now, ExpiresAt: out.ExpiresAt})
		if err != nil {
			return fmt.Errorf("insert transfer: %w", err)
		}
		return recordDetail(ctx, tx, ActionTransferStart, p, now, prof.ID, nil, nil, map[string]any{
			"transferId": t.ID, "fromAccountId": prof.AccountID, "expiresAt": out.ExpiresAt.UTC().Format(time.RFC3339Nano),
		})
	})
	if err != nil {
		return StartedTransfer{}, fmt.Errorf("start transfer: %w", err)
	}
	return out, nil
}

// CompleteTransfer moves the profile of an open transfer code to the caller's personal
// account. The Learn profile it was connected to belongs to the old account, so that
// connection would break the same-account rule (docs/domain.md "Connecting the profiles") and is
// removed (recorded as a profile.unlink event and in the transfer's event); the caller then
// connects their own Learn profile under the normal rules (MULTIPLE_CERTIFICATION_PROFILES
// when they now own several active profiles). The receiving account must stay within
// MaxProfiles. The code is single-use: the profile and the transfer rows are locked (in that
// order, the order StartTransfer takes them), so of two completions of one code exactly one
// moves the profile and the other finds the code used. Audited on the profile
// (ActionTransferComplete). A refused completion changes nothing, and the code stays usable.
// Codes: UNAUTHENTICATED, PERSONAL_ACCOUNT_REQUIRED, NOT_FOUND (unknown, used, replaced or
// expired code, or a profile no longer owned by the account that started it),
// BAD_USER_INPUT (the caller already owns the profile), PROFILE_ALREADY_MERGED,
// LIMIT_EXCEEDED (resource certificationProfiles).
func (s *Service) CompleteTransfer(ctx context.Context, p *auth.Principal, code string) (Profile, error) {
	if err := personalCaller(p, "receive a certification profile"); err != nil {
		return Profile{}, err
	}
	hash := hashCode(code)
	now := s.clock.Now()
	gone := apperr.Missing("transfer code (unknown, already used or expired)")
	var out Profile
	err := s.store.InTx(ctx, func(tx Store) error {
		first, err := tx.TransferByCodeHash(ctx, hash)
		if err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return gone
			}
			return err
		}
		prof, err := tx.LockProfile(ctx, first.ProfileID)
		if err != nil {
			return err
		}
		t, err := tx.LockTransfer(ctx, first.ID)
		if err != nil {
			return err
		}
		if !t.Open(now) || prof.AccountID != t.FromAccountID {
			return gone
		}
		if prof.AccountID == p.AccountID {
			return apperr.Invalid("your account already owns this certification profile")
		}
		if prof.Status == StatusMerged {
			return apperr.E(apperr.ProfileAlreadyMerged,
				"this certification profile was merged into another one; move the profile it was merged into")
		}
		if err := s.lockRoomForProfile(ctx, tx, p.AccountID); err != nil {
			return err
		}
		old, err := tx.DeleteLink(ctx, prof.ID)
		if err != nil {
			return fmt.Errorf("delete link: %w", err)
		}
		details := map[string]any{"transferId": t.ID, "fromAccountId": prof.AccountID, "toAccountId": p.AccountID,
			"learnProfileLinkDropped": old != nil}
		if old != nil {
			if err := recordLink(ctx, tx, ActionUnlink, p, *old, now); err != nil {
				return err
			}
			details["droppedLearnProfileId"] = old.LearnProfileID
		}
		if out, err = tx.SetProfileAccount(ctx, prof.ID, p.AccountID); err != nil {
			return fmt.Errorf("move profile: %w", err)
		}
		if err := tx.CompleteTransfer(ctx, t.ID, p.AccountID, now); err != nil {
			return fmt.Errorf("complete transfer: %w", err)
		}
		if err := tx.EmitWebhook(ctx, webhook.Transferred(prof.ID, now)); err != nil {
			return err
		}
		return recordDetail(ctx, tx, ActionTransferComplete, p, now, prof.ID, nil, nil, details)
	})
	if err != nil {
		return Profile{}, fmt.Errorf("complete transfer: %w", err)
	}
	return out, nil
}

// ownedForChange locks a profile and checks that p may change it through the learner's own
// mutations (ActAsOwner). Codes: NOT_FOUND, FORBIDDEN, PROFILE_ALREADY_MERGED.
func ownedForChange(ctx context.Context, tx Store, p *auth.Principal, profileID uuid.UUID) (Profile, error) {
	prof, err := tx.LockProfile(ctx, profileID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return Profile{}, apperr.Missing("certification profile")
	}
	if err != nil {
		return Profile{}, err
	}
	if err := ActAsOwner(p, &prof); err != nil {
		return Profile{}, err
	}
	if prof.Status == StatusMerged {
		return Profile{}, apperr.E(apperr.ProfileAlreadyMerged,
			"this certification profile was merged into another one; change the profile it was merged into")
	}
	return prof, nil
}
