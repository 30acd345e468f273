package renewal

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/learner"
	"github.com/recert/recert/internal/transcript"
)

// PageFacts is what the store reads, in one statement, for one profile's page of earned
// certifications with their renewal status: the page (certifications and current
// assessments included), whether the profile is connected, and for each row the attempts the
// renewal rules look at (those of its current cycle, and any in progress).
type PageFacts struct {
	transcript.EarnedPage
	Linked   bool
	Attempts [][]Attempt
}

// Page is one profile's page of earned certifications as its reader sees it: each row with its
// certification and its renewal status, computed by StatusOf, the rule Start applies.
type Page struct {
	transcript.EarnedPage
	// Views holds the view of each row of Earned (its renewal status read when it was asked for).
	Views []EarnedView
}

// Pages reads, for profiles p may read the history of (transcript.CanReadHistory: the owner
// or support), one page of earned certifications each, in profile order, with every row's
// renewal status: one statement for all of them, whatever the page length.
// Codes: UNAUTHENTICATED, FORBIDDEN.
func (s *Service) Pages(ctx context.Context, p *auth.Principal, profiles []*certprofile.Profile, q transcript.EarnedQuery) ([]Page, error) {
	ids := make([]uuid.UUID, len(profiles))
	for i, prof := range profiles {
		if err := transcript.CanReadHistory(p, prof); err != nil {
			return nil, err
		}
		ids[i] = prof.ID
	}
	facts, err := s.store.StatusPages(ctx, ids, q)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := make([]Page, len(facts))
	for i := range facts {
		out[i] = pageOf(&facts[i], now)
	}
	return out, nil
}

// pageOf is the page facts f read, each row with its renewal status at now.
func pageOf(f *PageFacts, now time.Time) Page {
	pg := Page{EarnedPage: f.EarnedPage, Views: ViewsOf(f.EarnedPage, date.Of(now))}
	for j := range f.Earned {
		st := StatusOf(Facts{Earned: f.Earned[j], Certification: f.Certifications[j],
			Assessment: f.Assessments[j], Linked: f.Linked, Attempts: f.Attempts[j]}, now)
		pg.Views[j].SetRenewal(&st, nil)
	}
	return pg
}

// ProfilePageFacts is what the store reads, in one statement, for a profile an MCID names and
// its first page: the profile, its link, the page's facts, and the account and Learn profile
// of the caller's identity. Read is false when the statement read no row (no such profile, or
// no row on the page: it cannot tell); Caller is nil when the identity has no account.
type ProfilePageFacts struct {
	Profile certprofile.Profile
	Link    *certprofile.Link
	Page    PageFacts
	Caller  *learner.Caller
	Read    bool
}

// ProfileAndPage is ProfilePage's answer.
type ProfileAndPage struct {
	Profile certprofile.Profile
	Link    *certprofile.Link
	// Page is nil when the caller may not read the profile's history.
	Page *Page
	// Read is false when the statement read nothing (no such profile, or a page with no row):
	// the caller then asks certprofile and Pages.
	Read bool
	// Caller is the caller's account and Learn profile when ProfilePage identified the caller
	// (the principal came without an AccountID), nil otherwise.
	Caller *learner.Caller
}

// Identities settles a caller's account from what a statement read for its identity
// (learner.Service.Adopt).
type Identities interface {
	Adopt(ctx context.Context, p *auth.Principal, found *learner.Caller, read bool) (learner.Account, learner.LearnProfile, error)
}

// ProfilePage reads the profile MCID mcid names (certprofile.Service.ByMCIDWithLink's rules:
// UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND for a profile p may not view) with its link and,
// when p may read its history, its page as Pages reads it: one statement. When p has no
// AccountID yet (authentication left the account lookup to this screen), the same statement
// reads the account of p's identity and ids settles it before any read rule looks at p.
func (s *Service) ProfilePage(ctx context.Context, p *auth.Principal, mcid string, q transcript.EarnedQuery, ids Identities) (ProfileAndPage, error) {
	var out ProfileAndPage
	identify := p != nil && p.AccountID == uuid.Nil
	settle := func(found *learner.Caller, read bool) error {
		if !identify {
			return nil
		}
		a, lp, err := ids.Adopt(ctx, p, found, read)
		if err == nil {
			out.Caller = &learner.Caller{Account: a, LearnProfile: lp}
		}
		return err
	}
	n, err := certprofile.LookupMCID(p, mcid)
	if err != nil {
		if serr := settle(nil, false); serr != nil {
			return out, serr
		}
		return out, err
	}
	var f ProfilePageFacts
	if p != nil {
		f, err = s.store.ProfileStatusPage(ctx, p.Issuer, p.Subject, n, q)
	}
	if err != nil {
		return out, err
	}
	if err := settle(f.Caller, f.Read); err != nil || !f.Read {
		return out, err
	}
	out.Read = true
	if !certprofile.CanView(p, &f.Profile) {
		return out, apperr.Missing("certification profile")
	}
	out.Profile, out.Link = f.Profile, f.Link
	if transcript.CanReadHistory(p, &f.Profile) != nil {
		return out, nil
	}
	pg := pageOf(&f.Page, s.clock.Now())
	out.Page = &pg
	return out, nil
}

// Held names an earned certification and the account that holds it (its profile's owner):
// what the read rule looks at.
type Held struct {
	EarnedID uuid.UUID
	Owner    uuid.UUID
}

// MayRead is the read rule of renewal details (attempts, renewals, renewal status, served
// questions): the holder or support. Anyone else, an employer reading a shared transcript
// included, gets FORBIDDEN: docs/domain.md "Transcript sharing" never shows attempts.
func MayRead(p *auth.Principal, owner uuid.UUID) error {
	if p != nil && ((p.AccountID != uuid.Nil && p.AccountID == owner) || p.HasRole(auth.RoleSupport)) {
		return nil
	}
	return apperr.Deny("only the holder and support see renewal details")
}

// Attempts lists, for each earned certification in key order, its attempts (oldest first),
// when p may read them (MayRead; FORBIDDEN for that key otherwise): one statement.
func (s *Service) Attempts(ctx context.Context, p *auth.Principal, held []Held) ([][]Attempt, []error) {
	return readHeld(ctx, p, held, s.store.AttemptsByEarnedIDs)
}

// Renewals lists, for each earned certification in key order, its renewals (oldest first),
// when p may read them (MayRead).
func (s *Service) Renewals(ctx context.Context, p *auth.Principal, held []Held) ([][]Renewal, []error) {
	return readHeld(ctx, p, held, s.store.RenewalsByEarnedIDs)
}

// Questions lists, for each attempt in key order (Held.EarnedID holds the attempt's id), the
// questions served to it, when p may read them (MayRead).
func (s *Service) Questions(ctx context.Context, p *auth.Principal, attempts []Held) ([][]ServedQuestion, []error) {
	return readHeld(ctx, p, attempts, s.store.ServedByAttemptIDs)
}

// AttemptsByIDs loads attempts in key order (NOT_FOUND for missing ones). The attempt alone
// does not tell whose it is: callers reach an attempt through Attempts, or check MayRead on
// the holder of its earned certification.
func (s *Service) AttemptsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Attempt, []error) {
	return s.store.AttemptsByIDs(ctx, ids)
}

// readHeld runs read for the keys p may read, in one call, and refuses the others.
func readHeld[T any](ctx context.Context, p *auth.Principal, held []Held,
	read func(context.Context, []uuid.UUID) ([][]T, error)) ([][]T, []error) {
	out, errs := make([][]T, len(held)), make([]error, len(held))
	ids, at := make([]uuid.UUID, 0, len(held)), make([]int, 0, len(held))
	for i, h := range held {
		if errs[i] = MayRead(p, h.Owner); errs[i] == nil {
			ids, at = append(ids, h.EarnedID), append(at, i)
		}
	}
	if len(ids) == 0 {
		return out, errs
	}
	lists, err := read(ctx, ids)
	for j, i := range at {
		if err != nil {
			errs[i] = err
		} else {
			out[i] = lists[j]
		}
	}
	return out, errs
}

// CurrentStatuses is the renewal status at now of every current (not superseded) earned
// certification of the profiles, by earned certification id: one statement for all of them
// (the page reader of Pages, at most maxPerProfile rows a profile). It applies no read rule:
// it serves a domain that has settled the reader's right to see these profiles' current
// certifications itself (the team view: internal/team, grants of the manager's tenant), and it
// returns nothing a team manager may not see (no attempt, no score).
func (s *Service) CurrentStatuses(ctx context.Context, profileIDs []uuid.UUID, maxPerProfile int) (map[uuid.UUID]Status, error) {
	out := map[uuid.UUID]Status{}
	if len(profileIDs) == 0 {
		return out, nil
	}
	now := s.clock.Now()
	today := date.Of(now)
	q := transcript.EarnedQuery{First: maxPerProfile, Filter: transcript.StatusFilter{Today: today,
		RenewableThrough: transcript.LastExpiryInWindow(today), Active: true, Renewable: true, Expired: true}}
	facts, err := s.store.StatusPages(ctx, profileIDs, q)
	if err != nil {
		return nil, err
	}
	for i := range facts {
		pg := pageOf(&facts[i], now)
		for j := range pg.Views {
			if st, err := pg.Views[j].Renewal(); err == nil && st != nil {
				out[pg.Views[j].ID] = *st
			}
		}
	}
	return out, nil
}
