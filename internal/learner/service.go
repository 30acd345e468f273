package learner

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
)

// Store is the persistence the learner service needs.
type Store interface {
	// AccountByIdentity loads an account and its Learn profile; NOT_FOUND when missing.
	AccountByIdentity(ctx context.Context, issuer, subject string) (Account, LearnProfile, error)
	// UpsertAccount creates the account and its Learn profile if missing (safe under
	// concurrent calls) and refreshes email and display name.
	UpsertAccount(ctx context.Context, a Account) (Account, LearnProfile, error)
	AccountsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Account, []error)
	LearnProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*LearnProfile, []error)
	LearnProfileByAccount(ctx context.Context, accountID uuid.UUID) (LearnProfile, error)
}

// Service manages accounts and Learn profiles.
type Service struct {
	store Store
	clock clock.Clock
	// known remembers the account and Learn profile behind an identity, as last read or
	// written: the mapping (issuer, subject) -> account never changes once made (accounts are
	// never deleted nor re-keyed), so a warm request authenticates without a statement. The
	// details the token carries (kind, email, name) are compared with the remembered ones; a
	// change goes to the database as before.
	known *lru.Cache[identity, known]
}

type identity struct{ issuer, subject string }

type known struct {
	account Account
	profile LearnProfile
}

// KnownIdentities bounds the identities a Service remembers (about 300 bytes each).
const KnownIdentities = 50_000

// NewService returns a Service on store.
func NewService(store Store, clk clock.Clock) *Service {
	c, _ := lru.New[identity, known](KnownIdentities) // only fails on a size <= 0
	return &Service{store: store, clock: clk, known: c}
}

// Ensure returns the caller's account and Learn profile, creating both on the account's first
// request (docs/domain.md "People and identities", chosen). Concurrent first requests of one
// account create one account. The principal's AccountID is set.
// Codes: UNAUTHENTICATED when p is nil.
func (s *Service) Ensure(ctx context.Context, p *auth.Principal) (Account, LearnProfile, error) {
	if p == nil {
		return Account{}, LearnProfile{}, apperr.Unauth("sign in to use this")
	}
	if a, lp, ok := s.Known(p); ok {
		return a, lp, nil
	}
	var found *Caller
	a, lp, err := s.store.AccountByIdentity(ctx, p.Issuer, p.Subject)
	switch {
	case err == nil:
		found = &Caller{Account: a, LearnProfile: lp}
	case apperr.CodeOf(err) != apperr.NotFound:
		return Account{}, LearnProfile{}, fmt.Errorf("load account: %w", err)
	}
	return s.settle(ctx, p, found)
}

// Caller is an account and its Learn profile, as a statement read them for an identity.
type Caller struct {
	Account      Account
	LearnProfile LearnProfile
}

// Known returns the caller's account and Learn profile when the Service remembers them with
// the details p carries, and then sets p's AccountID; ok is false otherwise (nothing is read).
func (s *Service) Known(p *auth.Principal) (Account, LearnProfile, bool) {
	if p == nil {
		return Account{}, LearnProfile{}, false
	}
	k, ok := s.known.Get(identity{p.Issuer, p.Subject})
	if !ok || !sameDetails(k.account, p) {
		return Account{}, LearnProfile{}, false
	}
	p.AccountID = k.account.ID
	return k.account, k.profile, true
}

// Adopt is Ensure with the lookup done by another statement, one that read p's identity
// (issuer, subject) beside its own rows so that a screen costs one statement, authentication
// included. read tells whether that statement read the identity at all (it cannot when it has
// no row to carry it): if not, Adopt is Ensure. found is the account and Learn profile it read,
// nil when the identity has no account yet. The principal's AccountID is set.
// Codes: UNAUTHENTICATED when p is nil.
func (s *Service) Adopt(ctx context.Context, p *auth.Principal, found *Caller, read bool) (Account, LearnProfile, error) {
	if p == nil {
		return Account{}, LearnProfile{}, apperr.Unauth("sign in to use this")
	}
	if !read || (found != nil && (found.Account.Issuer != p.Issuer || found.Account.Subject != p.Subject)) {
		return s.Ensure(ctx, p)
	}
	return s.settle(ctx, p, found)
}

// settle uses the account found for p's identity when its details are the ones p carries, and
// otherwise creates or refreshes it; it remembers the result and sets p's AccountID.
func (s *Service) settle(ctx context.Context, p *auth.Principal, found *Caller) (Account, LearnProfile, error) {
	id := identity{p.Issuer, p.Subject}
	if found != nil && sameDetails(found.Account, p) {
		s.known.Add(id, known{found.Account, found.LearnProfile})
		p.AccountID = found.Account.ID
		return found.Account, found.LearnProfile, nil
	}
	a, lp, err := s.store.UpsertAccount(ctx, Account{
		Issuer:      p.Issuer,
		Subject:     p.Subject,
		Kind:        Kind(p.Kind),
		Email:       optional(p.Email),
		DisplayName: optional(p.Name),
		CreatedAt:   s.clock.Now(),
	})
	if err != nil {
		return Account{}, LearnProfile{}, fmt.Errorf("upsert account: %w", err)
	}
	s.known.Add(id, known{a, lp})
	p.AccountID = a.ID
	return a, lp, nil
}

func sameDetails(a Account, p *auth.Principal) bool {
	return a.Kind == Kind(p.Kind) && deref(a.Email) == p.Email && deref(a.DisplayName) == p.Name
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MayView is the read rule of accounts and Learn profiles: the caller's own, or any for
// support.
func MayView(p *auth.Principal, accountID uuid.UUID) bool {
	return p != nil && ((p.AccountID != uuid.Nil && p.AccountID == accountID) || p.HasRole(auth.RoleSupport))
}

// Accounts loads accounts in key order for p: NOT_FOUND for missing ones and for anyone else's
// (MayView), so an id tells nothing about an account the caller may not see.
func (s *Service) Accounts(ctx context.Context, p *auth.Principal, ids []uuid.UUID) ([]*Account, []error) {
	list, errs := s.store.AccountsByIDs(ctx, ids)
	return visible(p, list, errs, func(a *Account) uuid.UUID { return a.ID }, "account")
}

// LearnProfiles loads Learn profiles in key order for p: NOT_FOUND for missing ones and for
// anyone else's (MayView).
func (s *Service) LearnProfiles(ctx context.Context, p *auth.Principal, ids []uuid.UUID) ([]*LearnProfile, []error) {
	list, errs := s.store.LearnProfilesByIDs(ctx, ids)
	return visible(p, list, errs, func(lp *LearnProfile) uuid.UUID { return lp.AccountID }, "learn profile")
}

// visible replaces what p may not view by NOT_FOUND.
func visible[T any](p *auth.Principal, list []*T, errs []error, owner func(*T) uuid.UUID, what string) ([]*T, []error) {
	if errs == nil {
		errs = make([]error, len(list))
	}
	for i, v := range list {
		if errs[i] == nil && (v == nil || !MayView(p, owner(v))) {
			list[i], errs[i] = nil, apperr.Missing(what)
		}
	}
	return list, errs
}

// LearnProfileOf returns the Learn profile of an account. Codes: NOT_FOUND.
func (s *Service) LearnProfileOf(ctx context.Context, accountID uuid.UUID) (LearnProfile, error) {
	return s.store.LearnProfileByAccount(ctx, accountID)
}
