package transcript

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/idem"
)

// shareCodeBytes is the randomness of a share code: 192 bits from crypto/rand, 32 base64url
// characters (docs/domain.md "Transcript sharing": 128 bits or more).
const shareCodeBytes = 24

// maxShareCode bounds the codes worth looking up; anything longer was never handed out.
const maxShareCode = 100

// NewShareCode returns a fresh unguessable share code.
func NewShareCode() (string, error) {
	b := make([]byte, shareCodeBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("share code: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CanManageShares reports whether p may list, create and revoke the shares of prof: its owner
// only (support sees the profile but not its shares). Codes: UNAUTHENTICATED, FORBIDDEN.
func CanManageShares(p *auth.Principal, prof *certprofile.Profile) error {
	if p == nil {
		return apperr.Unauth("sign in to manage transcript shares")
	}
	if !certprofile.IsOwner(p, prof) {
		return apperr.Deny("only the profile's owner manages its transcript shares")
	}
	return nil
}

// ownedProfile loads a profile for an owner-only change: NOT_FOUND for a caller who may not
// see it (no hint it exists), FORBIDDEN for support, who may see it but not act as owner.
func ownedProfile(ctx context.Context, st Store, p *auth.Principal, id uuid.UUID) (*certprofile.Profile, error) {
	list, errs := st.ProfilesByIDs(ctx, []uuid.UUID{id})
	if len(errs) > 0 && errs[0] != nil {
		return nil, errs[0]
	}
	prof := list[0]
	if !certprofile.CanView(p, prof) {
		return nil, apperr.Missing("certification profile")
	}
	if err := CanManageShares(p, prof); err != nil {
		return nil, err
	}
	return prof, nil
}

// CreateShare makes a share code for the caller's profile, optionally expiring at expiresAt.
// Codes: UNAUTHENTICATED, NOT_FOUND (no such profile, or someone else's), FORBIDDEN (support,
// not the owner), PROFILE_ALREADY_MERGED (a merged profile: share the survivor; its old codes
// keep working), BAD_USER_INPUT (expiresAt not in the future), LIMIT_EXCEEDED (the profile
// already has MaxLive live codes; extensions resource "transcriptShares" and limit). The
// profile row is locked while its live codes are counted, so concurrent creates, aliased in
// one request or from many, end with at most the cap. With an idempotency key (key non-nil), a
// repeat by the same caller for the same profile and expiry returns the first share as it is
// now and writes nothing (package idem); IDEMPOTENCY_KEY_REUSED for another request.
func (s *Service) CreateShare(ctx context.Context, p *auth.Principal, profileID uuid.UUID, expiresAt *time.Time, key *string) (Share, error) {
	if p == nil {
		return Share{}, apperr.Unauth("sign in to share your transcript")
	}
	now := s.clock.Now()
	var exp *time.Time
	if expiresAt != nil {
		e := expiresAt.UTC()
		exp = &e
	}
	k, err := idem.Own(p, ShareScope, key, now, idem.Retention, profileID, exp)
	if err != nil {
		return Share{}, err
	}
	var out Share
	err = s.store.InTx(ctx, func(tx Store) error {
		if _, err := ownedProfile(ctx, tx, p, profileID); err != nil {
			return err
		}
		id, replayed, err := idem.Once(ctx, tx, k, idem.Refusals{}, func() (uuid.UUID, error) {
			out, err = s.insertShare(ctx, tx, profileID, exp, now)
			return out.ID, err
		})
		if err != nil || !replayed {
			return err
		}
		out, err = tx.ShareByID(ctx, id)
		return err
	})
	if err != nil {
		return Share{}, fmt.Errorf("create share: %w", err)
	}
	return out, nil
}

// ShareScope is the idempotency key scope of CreateShare.
const ShareScope = "createTranscriptShare"

// insertShare makes the share of CreateShare in its transaction.
func (s *Service) insertShare(ctx context.Context, tx Store, profileID uuid.UUID, exp *time.Time, now time.Time) (Share, error) {
	// Read the status under the lock: a merge that committed meanwhile has made it MERGED.
	prof, err := tx.LockProfile(ctx, profileID)
	if err != nil {
		return Share{}, err
	}
	if prof.Status == certprofile.StatusMerged {
		return Share{}, apperr.E(apperr.ProfileAlreadyMerged, "this profile was merged into another one; share that one instead")
	}
	live, err := tx.CountLiveShares(ctx, prof.ID, now)
	if err != nil {
		return Share{}, err
	}
	if limit := s.MaxLive(); live >= limit {
		return Share{}, apperr.Limit("transcriptShares", limit,
			"a profile may have at most %d live share codes; revoke one first", limit)
	}
	sh := Share{ProfileID: prof.ID, CreatedAt: now, ExpiresAt: exp}
	if exp != nil && !exp.After(now) {
		return Share{}, apperr.Invalid("expiresAt must be in the future").With("field", "expiresAt")
	}
	if sh.Code, err = NewShareCode(); err != nil {
		return Share{}, err
	}
	return tx.InsertShare(ctx, sh)
}

// RevokeShare revokes one of the caller's share codes; revoking again changes nothing.
// Codes: UNAUTHENTICATED, NOT_FOUND (no such share, or someone else's), FORBIDDEN (support).
func (s *Service) RevokeShare(ctx context.Context, p *auth.Principal, shareID uuid.UUID) (Share, error) {
	if p == nil {
		return Share{}, apperr.Unauth("sign in to revoke a transcript share")
	}
	now := s.clock.Now()
	var out Share
	err := s.store.InTx(ctx, func(tx Store) error {
		sh, err := tx.ShareByID(ctx, shareID)
		if err != nil {
			return err
		}
		if _, err := ownedProfile(ctx, tx, p, sh.ProfileID); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return apperr.Missing("transcript share")
			}
			return err
		}
		out, err = tx.RevokeShare(ctx, shareID, now)
		return err
	})
	if err != nil {
		return Share{}, fmt.Errorf("revoke share: %w", err)
	}
	return out, nil
}

// Share loads one of the caller's shares. Codes: UNAUTHENTICATED, NOT_FOUND (no such share,
// or not the caller's: support included, since shares are the owner's alone).
func (s *Service) Share(ctx context.Context, p *auth.Principal, id uuid.UUID) (Share, error) {
	if p == nil {
		return Share{}, apperr.Unauth("sign in to see transcript shares")
	}
	sh, err := s.store.ShareByID(ctx, id)
	if err != nil {
		return Share{}, err
	}
	list, errs := s.store.ProfilesByIDs(ctx, []uuid.UUID{sh.ProfileID})
	if len(errs) > 0 && errs[0] != nil {
		return Share{}, errs[0]
	}
	if CanManageShares(p, list[0]) != nil {
		return Share{}, apperr.Missing("transcript share")
	}
	return sh, nil
}

// errNoTranscript is the one answer for an unknown, revoked or expired code, so the response
// tells nothing about which it was.
var errNoTranscript = apperr.Missing("transcript")

// View returns the public transcript behind a share code and counts the view. No caller is
// needed: whoever holds the code may see it. After a merge, a duplicate's code shows the
// survivor. Codes: NOT_FOUND (unknown, revoked or expired: the same error for each).
func (s *Service) View(ctx context.Context, code string) (Public, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > maxShareCode {
		return Public{}, errNoTranscript
	}
	now := s.clock.Now()
	var out Public
	var profileID uuid.UUID
	err := s.store.InTx(ctx, func(tx Store) error {
		var err error
		profileID, err = tx.ViewShare(ctx, code, now)
		if apperr.CodeOf(err) == apperr.NotFound {
			return errNoTranscript
		}
		if err != nil || s.PublicReads != nil {
			return err
		}
		out, err = tx.PublicOf(ctx, profileID)
		return err
	})
	if err == nil && s.PublicReads != nil {
		out, err = s.PublicReads.PublicOf(ctx, profileID)
		if apperr.CodeOf(err) == apperr.NotFound {
			out, err = s.store.PublicOf(ctx, profileID) // newer than the replica
		}
	}
	if err != nil {
		return Public{}, fmt.Errorf("view transcript: %w", err)
	}
	return out, nil
}
