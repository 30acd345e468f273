package certprofile

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
)

// Store is the persistence certification profiles need.
type Store interface {
	InsertProfile(ctx context.Context, p Profile) (Profile, error)
	ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*Profile, []error)
	// ProfileByMCID loads the profile holding mcid, following merges to the current survivor.
	ProfileByMCID(ctx context.Context, mcid int64) (Profile, error)
	ProfilesByAccount(ctx context.Context, accountID uuid.UUID) ([]Profile, error)
}

// Service manages certification profiles.
type Service struct {
	store Store
	clock clock.Clock
}

// NewService returns a Service on store.
func NewService(store Store, clk clock.Clock) *Service { return &Service{store: store, clock: clk} }

// NewProfile is what a learner gives to create a certification profile.
type NewProfile struct {
	LegalName         string
	Email             string
	PreferredLanguage *string
}

// Create makes a certification profile owned by the caller's personal account; the database
// hands out the MCID from a sequence, so one is never reused.
// Codes: UNAUTHENTICATED, PERSONAL_ACCOUNT_REQUIRED, BAD_USER_INPUT.
func (s *Service) Create(ctx context.Context, p *auth.Principal, in NewProfile) (Profile, error) {
	if p == nil {
		return Profile{}, apperr.Unauth("sign in to create a certification profile")
	}
	if p.Kind != auth.KindPersonal {
		return Profile{}, apperr.E(apperr.PersonalAccountRequired,
			"certification profiles belong to personal Microsoft accounts; sign in with your personal account")
	}
	prof, err := validate(in)
	if err != nil {
		return Profile{}, err
	}
	prof.AccountID = p.AccountID
	prof.Status = StatusActive
	prof.CreatedAt = s.clock.Now()
	out, err := s.store.InsertProfile(ctx, prof)
	if err != nil {
		return Profile{}, fmt.Errorf("insert profile: %w", err)
	}
	return out, nil
}

func validate(in NewProfile) (Profile, error) {
	name := strings.TrimSpace(in.LegalName)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return Profile{}, apperr.Invalid("legalName must be 1 to 200 characters")
	}
	email := strings.TrimSpace(in.Email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return Profile{}, apperr.Invalid("email must be a plain address such as name@example.com")
	}
	var lang *string
	if in.PreferredLanguage != nil && strings.TrimSpace(*in.PreferredLanguage) != "" {
		tag, err := language.Parse(strings.TrimSpace(*in.PreferredLanguage))
		if err != nil {
			return Profile{}, apperr.Invalid("preferredLanguage must be a language tag such as en or ja")
		}
		s := tag.String()
		lang = &s
	}
	return Profile{LegalName: name, Email: email, PreferredLanguage: lang}, nil
}

// CanView reports whether p may see prof: its owner or support.
func CanView(p *auth.Principal, prof *Profile) bool {
	if p == nil {
		return false
	}
	return p.AccountID == prof.AccountID || p.HasRole(auth.RoleSupport)
}

// IsOwner reports whether p's account owns prof.
func IsOwner(p *auth.Principal, prof *Profile) bool {
	return p != nil && p.AccountID != uuid.Nil && p.AccountID == prof.AccountID
}

// Visible loads a profile by id for p: its owner or support.
// Codes: UNAUTHENTICATED, NOT_FOUND (missing, or someone else's: never a hint it exists).
func (s *Service) Visible(ctx context.Context, p *auth.Principal, id uuid.UUID) (Profile, error) {
	if p == nil {
		return Profile{}, apperr.Unauth("sign in to see certification profiles")
	}
	list, errs := s.store.ProfilesByIDs(ctx, []uuid.UUID{id})
	if len(errs) > 0 && errs[0] != nil {
		return Profile{}, errs[0]
	}
	if !CanView(p, list[0]) {
		return Profile{}, apperr.Missing("certification profile")
	}
	return *list[0], nil
}

// ByMCID loads a profile by MCID for its owner or support; a merged MCID resolves to its
// survivor. Codes: UNAUTHENTICATED, BAD_USER_INPUT (not a number), NOT_FOUND.
func (s *Service) ByMCID(ctx context.Context, p *auth.Principal, mcid string) (Profile, error) {
	if p == nil {
		return Profile{}, apperr.Unauth("sign in to see certification profiles")
	}
	n, err := ParseMCID(mcid)
	if err != nil {
		return Profile{}, err
	}
	prof, err := s.store.ProfileByMCID(ctx, n)
	if err != nil {
		return Profile{}, err
	}
	if !CanView(p, &prof) {
		return Profile{}, apperr.Missing("certification profile")
	}
	return prof, nil
}

// ParseMCID reads an MCID as clients send it. Codes: BAD_USER_INPUT.
func ParseMCID(s string) (int64, error) {
	var n int64
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 18 {
		return 0, apperr.Invalid("mcid must be a number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, apperr.Invalid("mcid must be a number")
		}
		n = n*10 + int64(r-'0')
	}
	return n, nil
}

// Mine lists the certification profiles the caller's account owns (active and merged).
func (s *Service) Mine(ctx context.Context, p *auth.Principal) ([]Profile, error) {
	if p == nil {
		return nil, apperr.Unauth("sign in to see your certification profiles")
	}
	return s.store.ProfilesByAccount(ctx, p.AccountID)
}

// ProfilesByIDs loads profiles in key order (for dataloaders; no permission check).
func (s *Service) ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*Profile, []error) {
	return s.store.ProfilesByIDs(ctx, ids)
}
