package certprofile

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
)

// The audit actions of linking, so support can see them on the profile later.
const (
	ActionLink   = "profile.link"
	ActionUnlink = "profile.unlink"
)

// Linked is the outcome of Link and Unlink: the certification profile, the Learn profile on
// the other side (the caller's for Link; for Unlink the one disconnected, or the owner's when
// nothing was connected) and the link now in force (nil after Unlink).
type Linked struct {
	Profile        Profile
	LearnProfileID uuid.UUID
	Link           *Link
}

// Link connects the caller's Learn profile to one of their certification profiles
// (docs/domain.md "Connecting the profiles"). The checks run in this order, each depending only on
// what the earlier ones let through:
//
//   - UNAUTHENTICATED: no caller.
//   - PERSONAL_ACCOUNT_REQUIRED: the caller is a work or school account, whose Learn profile
//     cannot be connected. It is checked before the profile is even read: it depends on the
//     caller alone, so it reveals nothing about the profile, and a work account can never own
//     (or see, unless support) a certification profile, so checking it later would hide it
//     behind NOT_FOUND for exactly the people it is meant to tell. For support, who sees every
//     profile, it comes after the next two checks, so that support acting on a learner's
//     profile is FORBIDDEN whatever kind of account the agent signed in with.
//   - NOT_FOUND: no such profile, or the caller may not see it (neither owner nor support),
//     with no hint that it exists.
//   - FORBIDDEN: support, on a profile it does not own: support never uses the learner's own
//     mutations on a learner's profile (see ActAsOwner).
//   - PROFILE_ALREADY_MERGED: the profile was merged into another; connect the survivor.
//   - Already connected to exactly this Learn profile: success, nothing changes (idempotent,
//     even if the account has since gained a second profile).
//   - MULTIPLE_CERTIFICATION_PROFILES: the account owns more than one active profile; the
//     message tells the learner to contact support to merge them.
//   - CERTIFICATION_PROFILE_ALREADY_LINKED / LEARN_PROFILE_ALREADY_LINKED: either side is
//     connected to something else (also what the unique constraints give a racing request).
//
// One transaction: the account's profiles are locked (the lock Create takes) before the
// counts and links are read, and the link and its audit event are written together.
func (s *Service) Link(ctx context.Context, p *auth.Principal, profileID uuid.UUID) (Linked, error) {
	if p == nil || !p.HasRole(auth.RoleSupport) {
		if err := checkCaller(p); err != nil {
			return Linked{}, err
		}
	}
	now := s.clock.Now()
	var out Linked
	err := s.store.InTx(ctx, func(tx Store) error {
		list, errs := tx.ProfilesByIDs(ctx, []uuid.UUID{profileID})
		if len(errs) > 0 && errs[0] != nil {
			return errs[0]
		}
		if err := ActAsOwner(p, list[0]); err != nil {
			return err
		}
		if err := checkCaller(p); err != nil { // support, on their own profile
			return err
		}
		owned, err := tx.LockAccountProfiles(ctx, p.AccountID)
		if err != nil {
			return fmt.Errorf("lock account profiles: %w", err)
		}
		prof, ok := find(owned, profileID)
		if !ok { // moved to another account by a transfer while this request waited
			return apperr.Missing("certification profile")
		}
		lpID, err := tx.LearnProfileIDOf(ctx, p.AccountID)
		if err != nil {
			return fmt.Errorf("load learn profile: %w", err)
		}
		byProfile, byLearn, err := tx.LinksOf(ctx, profileID, lpID)
		if err != nil {
			return fmt.Errorf("load links: %w", err)
		}
		out = Linked{Profile: prof, LearnProfileID: lpID}
		already, err := checkLink(prof, owned, lpID, byProfile, byLearn)
		if err != nil {
			return err
		}
		if already {
			out.Link = byProfile
			return nil
		}
		l := Link{LearnProfileID: lpID, CertificationProfileID: profileID, LinkedAt: now}
		if err := tx.InsertLink(ctx, l); err != nil {
			return err
		}
		out.Link = &l
		return recordLink(ctx, tx, ActionLink, p, l, now)
	})
	if err != nil {
		return Linked{}, fmt.Errorf("link profile: %w", err)
	}
	return out, nil
}

// Unlink disconnects a certification profile from its Learn profile; renewal is unavailable
// until it is connected again (docs/domain.md "Connecting the profiles": the owner may disconnect,
// chosen). Only the owner: support gets FORBIDDEN, as on every other learner mutation (an
// agent disconnecting a learner would silently block their renewal). Unlinking a profile that
// is not connected changes nothing and returns the current state.
// Codes: UNAUTHENTICATED, NOT_FOUND (missing, or someone else's), FORBIDDEN (support).
func (s *Service) Unlink(ctx context.Context, p *auth.Principal, profileID uuid.UUID) (Linked, error) {
	if p == nil {
		return Linked{}, apperr.Unauth("sign in to disconnect a certification profile")
	}
	now := s.clock.Now()
	var out Linked
	err := s.store.InTx(ctx, func(tx Store) error {
		prof, err := tx.LockProfile(ctx, profileID)
		if err != nil {
			return err
		}
		if err := ActAsOwner(p, &prof); err != nil {
			return err
		}
		out = Linked{Profile: prof}
		old, err := tx.DeleteLink(ctx, profileID)
		if err != nil {
			return fmt.Errorf("delete link: %w", err)
		}
		if old == nil {
			out.LearnProfileID, err = tx.LearnProfileIDOf(ctx, prof.AccountID)
			return err
		}
		out.LearnProfileID = old.LearnProfileID
		return recordLink(ctx, tx, ActionUnlink, p, *old, now)
	})
	if err != nil {
		return Linked{}, fmt.Errorf("unlink profile: %w", err)
	}
	return out, nil
}

// checkCaller is the part of the link rules that depends on the caller alone.
// Codes: UNAUTHENTICATED, PERSONAL_ACCOUNT_REQUIRED.
func checkCaller(p *auth.Principal) error {
	if p == nil {
		return apperr.Unauth("sign in to connect a certification profile")
	}
	if p.Kind != auth.KindPersonal {
		return apperr.E(apperr.PersonalAccountRequired,
			"a Learn profile of a work or school account cannot be connected; sign in with the personal account that owns the certification profile")
	}
	return nil
}

// ActAsOwner checks that p may change prof through the learner's own mutations (connect,
// disconnect): nil for its owner; FORBIDDEN for support, who sees every profile but never
// acts for a learner through them; NOT_FOUND for anyone else, with no hint that it exists.
// Codes: NOT_FOUND, FORBIDDEN.
func ActAsOwner(p *auth.Principal, prof *Profile) error {
	switch {
	case prof == nil || !CanView(p, prof):
		return apperr.Missing("certification profile")
	case !IsOwner(p, prof):
		return apperr.Deny("only the certification profile's owner may connect or disconnect it; support does not act through the learner's mutations")
	}
	return nil
}

// checkLink applies the rest of docs/domain.md "Connecting the profiles" once the account's
// profiles are locked: owned are the profiles of the caller's account (prof among them),
// byProfile and byLearn the links of each side. already is true when exactly this pair is
// connected. Codes: PROFILE_ALREADY_MERGED, MULTIPLE_CERTIFICATION_PROFILES,
// CERTIFICATION_PROFILE_ALREADY_LINKED, LEARN_PROFILE_ALREADY_LINKED.
func checkLink(prof Profile, owned []Profile, lpID uuid.UUID, byProfile, byLearn *Link) (already bool, err error) {
	if prof.Status == StatusMerged {
		return false, apperr.E(apperr.ProfileAlreadyMerged,
			"this certification profile was merged into another one; connect the profile it was merged into")
	}
	if byProfile != nil && byProfile.LearnProfileID == lpID {
		return true, nil
	}
	active := 0
	for _, o := range owned {
		if o.Status == StatusActive {
			active++
		}
	}
	if active > 1 {
		return false, apperr.E(apperr.MultipleCertificationProfiles,
			"your account owns %d active certification profiles; contact support to merge them into one, then connect it", active)
	}
	if byProfile != nil {
		return false, apperr.E(apperr.CertificationProfileAlreadyLinked,
			"this certification profile is already connected to another Learn profile")
	}
	if byLearn != nil {
		return false, apperr.E(apperr.LearnProfileAlreadyLinked,
			"your Learn profile is already connected to another certification profile; disconnect it first")
	}
	return false, nil
}

func find(list []Profile, id uuid.UUID) (Profile, bool) {
	for _, p := range list {
		if p.ID == id {
			return p, true
		}
	}
	return Profile{}, false
}

// recordLink writes the audit event of linking or unlinking l, concerning its certification
// profile.
func recordLink(ctx context.Context, tx Store, action string, p *auth.Principal, l Link, now time.Time) error {
	ev, err := audit.New(action, p.Identity(), map[string]string{
		"learnProfileId":         l.LearnProfileID.String(),
		"certificationProfileId": l.CertificationProfileID.String(),
		"linkedAt":               l.LinkedAt.UTC().Format(time.RFC3339Nano),
	}, now, l.CertificationProfileID)
	if err != nil {
		return err
	}
	_, err = tx.InsertAudit(ctx, ev)
	return err
}

// AlternateEmailsByIDs loads each profile's alternate emails, in key order (for dataloaders;
// no permission check).
func (s *Service) AlternateEmailsByIDs(ctx context.Context, ids []uuid.UUID) ([][]string, error) {
	return s.store.AlternateEmailsByIDs(ctx, ids)
}

// LinksByProfileIDs loads the link of each certification profile, nil where there is none
// (for dataloaders; no permission check).
func (s *Service) LinksByProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*Link, error) {
	return s.store.LinksByProfileIDs(ctx, ids)
}

// LinksByLearnProfileIDs loads the link of each Learn profile, nil where there is none (for
// dataloaders; no permission check).
func (s *Service) LinksByLearnProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*Link, error) {
	return s.store.LinksByLearnProfileIDs(ctx, ids)
}
