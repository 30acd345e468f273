package certprofile

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/idem"
	"github.com/recert/recert/internal/webhook"
)

// Store is the persistence certification profiles need.
type Store interface {
	// InTx runs fn in one transaction on a Store bound to it (retried on serialization
	// failure or deadlock, so fn must have no other side effects).
	InTx(ctx context.Context, fn func(tx Store) error) error
	// EmitWebhook writes a webhook event in the transaction (PROFILE_TRANSFERRED).
	webhook.Emitter
	// ClaimKey and StoreResponse keep Create's idempotency keys.
	idem.Store

	InsertProfile(ctx context.Context, p Profile) (Profile, error)
	ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*Profile, []error)
	// ProfileByMCID loads the profile holding mcid, following merges to the current survivor.
	ProfileByMCID(ctx context.Context, mcid int64) (Profile, error)
	// ProfileAndLinkByMCID is ProfileByMCID with the profile's link (nil when not connected).
	ProfileAndLinkByMCID(ctx context.Context, mcid int64) (Profile, *Link, error)
	ProfilesByAccount(ctx context.Context, accountID uuid.UUID) ([]Profile, error)

	// LockAccountProfiles locks every certification profile of an account (ascending id, FOR
	// UPDATE) and then returns them as they are once the locks are held, including a profile
	// another transaction committed while this one waited. Create and Link take this lock,
	// so creating a second profile and linking never interleave.
	LockAccountProfiles(ctx context.Context, accountID uuid.UUID) ([]Profile, error)
	// LockAccount locks the account row (FOR UPDATE): Create holds it while it counts the
	// account's profiles, so concurrent creates cannot pass the cap together, even for the
	// first profile, when there is no profile row to lock yet.
	LockAccount(ctx context.Context, accountID uuid.UUID) error
	// LockProfile locks one profile row. Codes: NOT_FOUND.
	LockProfile(ctx context.Context, id uuid.UUID) (Profile, error)
	// LearnProfileIDOf returns the id of an account's Learn profile. Codes: NOT_FOUND.
	LearnProfileIDOf(ctx context.Context, accountID uuid.UUID) (uuid.UUID, error)
	// LinksOf returns the link of the certification profile and the link of the Learn
	// profile (nil where there is none).
	LinksOf(ctx context.Context, profileID, learnProfileID uuid.UUID) (byProfile, byLearn *Link, err error)
	// InsertLink stores a link. Codes: LEARN_PROFILE_ALREADY_LINKED,
	// CERTIFICATION_PROFILE_ALREADY_LINKED (the unique constraints, even under races).
	InsertLink(ctx context.Context, l Link) error
	// DeleteLink removes the link of a certification profile and returns it, or nil.
	DeleteLink(ctx context.Context, profileID uuid.UUID) (*Link, error)
	// InsertAudit records an audit event and the profiles it concerns.
	audit.Store

	// InsertTransfer stores a started transfer.
	InsertTransfer(ctx context.Context, t Transfer) (Transfer, error)
	// RevokeOpenTransfers marks the profile's uncompleted, unrevoked transfers revoked at now.
	RevokeOpenTransfers(ctx context.Context, profileID uuid.UUID, now time.Time) error
	// TransferByCodeHash loads the transfer of a code hash (no lock). Codes: NOT_FOUND.
	TransferByCodeHash(ctx context.Context, hash []byte) (Transfer, error)
	// LockTransfer locks one transfer row (FOR UPDATE). Codes: NOT_FOUND.
	LockTransfer(ctx context.Context, id uuid.UUID) (Transfer, error)
	// CompleteTransfer records that the transfer moved the profile to toAccount at now.
	CompleteTransfer(ctx context.Context, id, toAccount uuid.UUID, now time.Time) error
	// SetProfileAccount makes accountID the owner of a profile (which must have no link) and
	// returns the profile as it now is.
	SetProfileAccount(ctx context.Context, profileID, accountID uuid.UUID) (Profile, error)

	// SetPreferredLanguage sets (nil: clears) a profile's preferred language, and the language
	// of its reminders not yet sent.
	SetPreferredLanguage(ctx context.Context, profileID uuid.UUID, lang *string) (Profile, error)
	// SetLegalName sets a profile's legal name.
	SetLegalName(ctx context.Context, profileID uuid.UUID, name string) (Profile, error)
	// SetProfileEmail makes email the contact email, keeps old as an alternate (email stops
	// being one) and points reminders not yet sent at email.
	SetProfileEmail(ctx context.Context, profileID uuid.UUID, email, old string, now time.Time) (Profile, error)
	// RevokeOpenEmailChanges revokes the profile's pending email changes at now and cancels
	// their undelivered verification emails (and forgets their codes).
	RevokeOpenEmailChanges(ctx context.Context, profileID uuid.UUID, now time.Time) error
	// InsertEmailChange stores a pending email change.
	InsertEmailChange(ctx context.Context, c EmailChange) (EmailChange, error)
	// QueueVerificationEmail writes the outbox row that emails a change's code.
	QueueVerificationEmail(ctx context.Context, v VerificationEmail) error
	// LockOpenEmailChange locks the profile's pending (not confirmed, not revoked) email
	// change. Codes: NOT_FOUND.
	LockOpenEmailChange(ctx context.Context, profileID uuid.UUID) (EmailChange, error)
	// RecordWrongEmailCode counts one wrong code and returns the count.
	RecordWrongEmailCode(ctx context.Context, id uuid.UUID) (int, error)
	// ConfirmEmailChange marks a change confirmed and forgets its code in the outbox.
	ConfirmEmailChange(ctx context.Context, id uuid.UUID, now time.Time) error

	// Batch reads for dataloaders, in key order (nil / empty where there is nothing).
	AlternateEmailsByIDs(ctx context.Context, ids []uuid.UUID) ([][]string, error)
	LinksByProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*Link, error)
	LinksByLearnProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*Link, error)

	// SearchProfiles returns up to limit profiles matching q after the key `after` (nil:
	// from the start), ordered by Key.
	SearchProfiles(ctx context.Context, q Query, after *SearchKey, limit int) ([]Hit, error)
	// CountProfiles counts the profiles matching q.
	CountProfiles(ctx context.Context, q Query) (int, error)
	// FoldSearch returns text in the form a name search compares legal names in (the
	// database's search_fold: lower case, without accents, compatibility forms resolved).
	FoldSearch(ctx context.Context, text string) (string, error)
}

// DefaultMaxProfilesPerAccount is the default of MAX_PROFILES_PER_ACCOUNT: a person needs one
// certification profile; a few more leave room for mistakes that support merges later.
const DefaultMaxProfilesPerAccount = 5

// Service manages certification profiles.
type Service struct {
	store Store
	clock clock.Clock
	// MaxPerAccount caps the certification profiles an account may create, merged ones
	// included (0 means DefaultMaxProfilesPerAccount). It is also the most
	// viewer.certificationProfiles lists.
	MaxPerAccount int
	// ReminderLanguages are the languages a preferred language may be set to: those of the
	// reminder templates (DefaultReminderLanguages when empty).
	ReminderLanguages []string
}

// MaxProfiles returns the cap on an account's certification profiles.
func (s *Service) MaxProfiles() int {
	if s.MaxPerAccount > 0 {
		return s.MaxPerAccount
	}
	return DefaultMaxProfilesPerAccount
}

// NewService returns a Service on store.
func NewService(store Store, clk clock.Clock) *Service { return &Service{store: store, clock: clk} }

// NewProfile is what a learner gives to create a certification profile.
type NewProfile struct {
	LegalName         string
	Email             string
	PreferredLanguage *string
	// IdempotencyKey, when set, makes a repeat return the first profile (package idem).
	IdempotencyKey *string
}

// CreateScope is the idempotency key scope of Create.
const CreateScope = "createCertificationProfile"

// Create makes a certification profile owned by the caller's personal account; the database
// hands out the MCID from a sequence, so one is never reused. An account holds at most
// MaxProfiles profiles, ACTIVE and MERGED alike: a merged duplicate stays the account's and
// stays listed, so counting it keeps viewer.certificationProfiles within the cap, and a person
// has no use for more than one ACTIVE profile anyway. The account row is locked while the
// profiles are counted, so concurrent creates end with at most the cap.
// With an idempotency key, a repeat by the same caller with the same details returns the first
// profile as it is now and writes nothing (package idem), even at the cap.
// Codes: UNAUTHENTICATED, PERSONAL_ACCOUNT_REQUIRED, BAD_USER_INPUT, LIMIT_EXCEEDED (extensions
// resource "certificationProfiles" and limit), IDEMPOTENCY_KEY_REUSED.
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
	key, err := idem.Own(p, CreateScope, in.IdempotencyKey, prof.CreatedAt, idem.Retention,
		prof.LegalName, prof.Email, prof.PreferredLanguage)
	if err != nil {
		return Profile{}, err
	}
	var out Profile
	err = s.store.InTx(ctx, func(tx Store) error {
		id, replayed, err := idem.Once(ctx, tx, key, idem.Refusals{}, func() (uuid.UUID, error) {
			if err := s.lockRoomForProfile(ctx, tx, p.AccountID); err != nil {
				return uuid.Nil, err
			}
			out, err = tx.InsertProfile(ctx, prof)
			return out.ID, err
		})
		if err != nil || !replayed {
			return err
		}
		out, err = tx.LockProfile(ctx, id)
		return err
	})
	if err != nil {
		return Profile{}, fmt.Errorf("create profile: %w", err)
	}
	return out, nil
}

// lockRoomForProfile locks an account and its profiles and checks that one more profile fits
// within MaxProfiles (Create, CompleteTransfer). Codes: LIMIT_EXCEEDED (extensions resource
// "certificationProfiles" and limit).
func (s *Service) lockRoomForProfile(ctx context.Context, tx Store, accountID uuid.UUID) error {
	if err := tx.LockAccount(ctx, accountID); err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	// The lock Link takes: a second profile arriving while a link is being decided must
	// wait for it, so MULTIPLE_CERTIFICATION_PROFILES cannot be bypassed by a race.
	mine, err := tx.LockAccountProfiles(ctx, accountID)
	if err != nil {
		return fmt.Errorf("lock account profiles: %w", err)
	}
	if limit := s.MaxProfiles(); len(mine) >= limit {
		return apperr.Limit("certificationProfiles", limit,
			"an account may hold at most %d certification profiles; ask support to merge duplicates", limit)
	}
	return nil
}

// maxEmail is the longest address RFC 5321 allows in a path.
const maxEmail = 254

// hasControl reports whether s holds a control character (PostgreSQL refuses NUL in text, and
// none belongs in a name or an address).
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// plainEmail reports whether s is a plain address, name@domain with no spaces, display
// name or comment: what the contact email column accepts and what mail can be sent to.
func plainEmail(s string) bool {
	if s == "" || len(s) > maxEmail || hasControl(s) || strings.ContainsFunc(s, unicode.IsSpace) {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s
}

func validate(in NewProfile) (Profile, error) {
	name := strings.TrimSpace(in.LegalName)
	if name == "" || utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) || hasControl(name) {
		return Profile{}, apperr.Invalid("legalName must be 1 to 200 characters, without control characters")
	}
	email := strings.TrimSpace(in.Email)
	if !plainEmail(email) {
		return Profile{}, apperr.Invalid("email must be a plain address such as name@example.com")
	}
	var lang *string
	if in.PreferredLanguage != nil && strings.TrimSpace(*in.PreferredLanguage) != "" {
		tag, err := language.Parse(strings.TrimSpace(*in.PreferredLanguage))
		if err != nil || tag == language.Und {
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

// ByMCIDWithLink is ByMCID that also returns the profile's link (nil when not connected),
// read with the profile in one statement, for callers that show both.
// Codes: UNAUTHENTICATED, BAD_USER_INPUT (not a number), NOT_FOUND.
func (s *Service) ByMCIDWithLink(ctx context.Context, p *auth.Principal, mcid string) (Profile, *Link, error) {
	n, err := LookupMCID(p, mcid)
	if err != nil {
		return Profile{}, nil, err
	}
	prof, link, err := s.store.ProfileAndLinkByMCID(ctx, n)
	if err != nil {
		return Profile{}, nil, err
	}
	if !CanView(p, &prof) {
		return Profile{}, nil, apperr.Missing("certification profile")
	}
	return prof, link, nil
}

// LookupMCID is the MCID p asks a profile by, before it is read: p must be signed in.
// Codes: UNAUTHENTICATED, BAD_USER_INPUT.
func LookupMCID(p *auth.Principal, mcid string) (int64, error) {
	if p == nil {
		return 0, apperr.Unauth("sign in to see certification profiles")
	}
	return ParseMCID(mcid)
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
	list, err := s.store.ProfilesByAccount(ctx, p.AccountID)
	if err != nil {
		return nil, err
	}
	// Create keeps an account within the cap; accounts older than the cap are cut to it, so
	// the list never holds more than the cost model prices it at.
	return list[:min(len(list), s.MaxProfiles())], nil
}

// ProfilesByIDs loads profiles in key order for p (the batch reader behind the profile
// loader): NOT_FOUND for missing ones and for those p may not view (CanView: the owner or
// support), so an id tells nothing about someone else's profile.
func (s *Service) ProfilesByIDs(ctx context.Context, p *auth.Principal, ids []uuid.UUID) ([]*Profile, []error) {
	list, errs := s.store.ProfilesByIDs(ctx, ids)
	if errs == nil {
		errs = make([]error, len(ids))
	}
	for i, prof := range list {
		if errs[i] == nil && (prof == nil || !CanView(p, prof)) {
			list[i], errs[i] = nil, apperr.Missing("certification profile")
		}
	}
	return list, errs
}
