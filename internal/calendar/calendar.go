// Package calendar serves a certification profile's renewal dates as an iCalendar (RFC 5545)
// feed behind a secret URL (issue 16, docs/api.md "Calendar feed"): for every current renewable
// certification, the day its window opens, the reminder days and the deadline.
package calendar

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/idem"
)

// tokenBytes is the randomness of a feed token: 256 bits from crypto/rand.
const tokenBytes = 32

// MaxLive is how many unrevoked feeds a profile may have.
const MaxLive = 10

// Listed is how many feeds CertificationProfile.calendarFeeds lists at most: every live one
// and the latest revoked ones.
const Listed = 2 * MaxLive

// Feed is a calendar feed of a profile. URL is set only on the value Create returns: the
// token is not stored, only its hash.
type Feed struct {
	ID        uuid.UUID
	ProfileID uuid.UUID
	CreatedAt time.Time
	RevokedAt *time.Time
	URL       *string
}

// Entry is one current renewable certification of a feed's profile, with what its events need.
type Entry struct {
	EarnedID  uuid.UUID
	Code      string
	Name      string
	ExpiresOn date.Date
	RetiredOn *date.Date
	// Renewals counts the renewals of the record: the events' SEQUENCE, so a renewal updates
	// the subscribed events in place.
	Renewals int
	// ModifiedAt is the last renewal, or when the record was created (LAST-MODIFIED, DTSTAMP).
	ModifiedAt time.Time
}

// Store is the persistence feeds need.
type Store interface {
	// InTx runs fn in one transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// ClaimKey and StoreResponse keep Create's idempotency keys.
	idem.Store
	// LockProfile locks a profile row. Codes: NOT_FOUND.
	LockProfile(ctx context.Context, id uuid.UUID) (certprofile.Profile, error)
	// ProfileByID loads a profile. Codes: NOT_FOUND.
	ProfileByID(ctx context.Context, id uuid.UUID) (certprofile.Profile, error)
	// CountLiveFeeds counts a profile's unrevoked feeds.
	CountLiveFeeds(ctx context.Context, profileID uuid.UUID) (int, error)
	// InsertFeed stores a feed with the hash of its token.
	InsertFeed(ctx context.Context, f Feed, tokenHash []byte) (Feed, error)
	// FeedByID loads a feed. Codes: NOT_FOUND.
	FeedByID(ctx context.Context, id uuid.UUID) (Feed, error)
	// RevokeFeed sets revoked_at unless set. Codes: NOT_FOUND.
	RevokeFeed(ctx context.Context, id uuid.UUID, at time.Time) (Feed, error)
	// FeedsByProfileIDs lists each profile's feeds, newest first, in key order.
	FeedsByProfileIDs(ctx context.Context, ids []uuid.UUID) ([][]Feed, error)
	// Entries reads, for the unrevoked feed whose token hashes to tokenHash, the current
	// renewable certifications (not superseded, expiring after today, not retired before
	// today, with an assessment) of its profile's survivor (merges followed), expiry first.
	// ok is false for an unknown or revoked feed.
	Entries(ctx context.Context, tokenHash []byte, today date.Date) (entries []Entry, ok bool, err error)
	// EntryByEarnedID reads one earned certification as a feed lists it on today, under the
	// same conditions as Entries (not superseded, expiring after today, not retired before
	// today, with an assessment); ok is false when it is not such a certification.
	EntryByEarnedID(ctx context.Context, id uuid.UUID, today date.Date) (e Entry, ok bool, err error)
}

// Service implements calendar feeds.
type Service struct {
	store Store
	clock clock.Clock
	base  *url.URL
	// Reminders is the reminder schedule: the due dates of a cycle's reminders (notify.Plan.Dates).
	reminders func(expires date.Date) []date.Date
}

// NewService returns a Service on store; publicURL is the base of feed and renewal links
// (PUBLIC_URL) and reminders the reminder schedule (notify.Plan.Dates).
func NewService(store Store, clk clock.Clock, publicURL string, reminders func(date.Date) []date.Date) (*Service, error) {
	base, err := ParseBase(publicURL)
	if err != nil {
		return nil, err
	}
	return &Service{store: store, clock: clk, base: base, reminders: reminders}, nil
}

// ParseBase checks PUBLIC_URL: http(s)://host[/path].
func ParseBase(publicURL string) (*url.URL, error) {
	base, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("public URL %q: want http(s)://host[/path]", publicURL)
	}
	return base, nil
}

// RenewURL links the renewal page of a certification in the web app (the link the reminder
// emails carry too).
func RenewURL(base *url.URL, code string) string {
	return base.JoinPath("certifications", code, "renew").String()
}

// FeedPath is the path the feed of token is served at, under the public URL.
func FeedPath(token string) string { return "/calendar/" + token + ".ics" }

// HashToken is what is stored of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("feed token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CanManage reports whether p may list, create and revoke the feeds of prof: its owner only.
// Codes: UNAUTHENTICATED, FORBIDDEN.
func CanManage(p *auth.Principal, prof *certprofile.Profile) error {
	if p == nil {
		return apperr.Unauth("sign in to manage calendar feeds")
	}
	if !certprofile.IsOwner(p, prof) {
		return apperr.Deny("only the profile's owner manages its calendar feeds")
	}
	return nil
}

// owned loads a profile for an owner-only change: NOT_FOUND for a caller who may not see it,
// FORBIDDEN for support.
func owned(ctx context.Context, st Store, p *auth.Principal, id uuid.UUID) (certprofile.Profile, error) {
	prof, err := st.ProfileByID(ctx, id)
	if err != nil {
		return prof, err
	}
	if !certprofile.CanView(p, &prof) {
		return prof, apperr.Missing("certification profile")
	}
	return prof, CanManage(p, &prof)
}

// Create makes a feed of the caller's profile and returns it with its secret URL. With an
// idempotency key (key non-nil), a repeat by the same caller within KeyRetention returns the
// first feed as it is now, with its URL, and writes nothing (package idem).
// Codes: UNAUTHENTICATED, NOT_FOUND (no such profile, or someone else's), FORBIDDEN (support),
// PROFILE_ALREADY_MERGED, LIMIT_EXCEEDED (MaxLive unrevoked feeds; resource "calendarFeeds"),
// BAD_USER_INPUT (a blank or too long key), IDEMPOTENCY_KEY_REUSED.
func (s *Service) Create(ctx context.Context, p *auth.Principal, profileID uuid.UUID, key *string) (Feed, error) {
	if p == nil {
		return Feed{}, apperr.Unauth("sign in to create a calendar feed")
	}
	now := s.clock.Now()
	k, err := idem.Own(p, CreateScope, key, now, KeyRetention, profileID)
	if err != nil {
		return Feed{}, err
	}
	var out Feed
	err = s.store.InTx(ctx, func(tx Store) error {
		if _, err := owned(ctx, tx, p, profileID); err != nil {
			return err
		}
		made, replayed, err := idem.Once(ctx, tx, k, idem.Refusals{}, func() (created, error) {
			var c created
			c.Token, err = newToken()
			if err != nil {
				return c, err
			}
			out, err = s.insert(ctx, tx, profileID, c.Token, now)
			c.ID = out.ID
			return c, err
		})
		if err != nil {
			return err
		}
		if replayed {
			if out, err = tx.FeedByID(ctx, made.ID); err != nil {
				return err
			}
		}
		u := s.base.JoinPath(FeedPath(made.Token)).String()
		out.URL = &u
		return nil
	})
	if err != nil {
		return Feed{}, fmt.Errorf("create calendar feed: %w", err)
	}
	return out, nil
}

// CreateScope is the idempotency key scope of Create.
const CreateScope = "createCalendarFeed"

// KeyRetention is how long Create's idempotency keys are kept. Their answer holds the feed's
// secret token, which the feeds table keeps only hashed: a day covers any retry of a lost
// answer and keeps the token in clear no longer than that.
const KeyRetention = 24 * time.Hour

// created is what an idempotency key keeps of Create: the feed and its token.
type created struct {
	ID    uuid.UUID `json:"id"`
	Token string    `json:"token"`
}

// insert stores a new feed of the profile, checked under the profile's lock (not merged, below
// MaxLive).
func (s *Service) insert(ctx context.Context, tx Store, profileID uuid.UUID, token string, now time.Time) (Feed, error) {
	prof, err := tx.LockProfile(ctx, profileID)
	if err != nil {
		return Feed{}, err
	}
	if prof.Status == certprofile.StatusMerged {
		return Feed{}, apperr.E(apperr.ProfileAlreadyMerged, "this profile was merged into another one; subscribe to that one instead")
	}
	live, err := tx.CountLiveFeeds(ctx, prof.ID)
	if err != nil {
		return Feed{}, err
	}
	if live >= MaxLive {
		return Feed{}, apperr.Limit("calendarFeeds", MaxLive, "a profile may have at most %d live calendar feeds; revoke one first", MaxLive)
	}
	return tx.InsertFeed(ctx, Feed{ProfileID: prof.ID, CreatedAt: now}, HashToken(token))
}

// Revoke revokes one of the caller's feeds; revoking again keeps the first time.
// Codes: UNAUTHENTICATED, NOT_FOUND (no such feed, or someone else's), FORBIDDEN (support).
func (s *Service) Revoke(ctx context.Context, p *auth.Principal, id uuid.UUID) (Feed, error) {
	if p == nil {
		return Feed{}, apperr.Unauth("sign in to revoke a calendar feed")
	}
	now := s.clock.Now()
	var out Feed
	err := s.store.InTx(ctx, func(tx Store) error {
		f, err := tx.FeedByID(ctx, id)
		if err != nil {
			return err
		}
		if _, err := owned(ctx, tx, p, f.ProfileID); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return apperr.Missing("calendar feed")
			}
			return err
		}
		out, err = tx.RevokeFeed(ctx, id, now)
		return err
	})
	if err != nil {
		return Feed{}, fmt.Errorf("revoke calendar feed: %w", err)
	}
	return out, nil
}

// Feed loads one of the caller's feeds. Codes: UNAUTHENTICATED, NOT_FOUND (no such feed, or
// not the caller's: support included).
func (s *Service) Feed(ctx context.Context, p *auth.Principal, id uuid.UUID) (Feed, error) {
	if p == nil {
		return Feed{}, apperr.Unauth("sign in to see calendar feeds")
	}
	f, err := s.store.FeedByID(ctx, id)
	if err != nil {
		return Feed{}, err
	}
	prof, err := s.store.ProfileByID(ctx, f.ProfileID)
	if err != nil || CanManage(p, &prof) != nil {
		return Feed{}, apperr.Missing("calendar feed")
	}
	return f, nil
}

// FeedsByProfileIDs lists, for each profile in key order, at most Listed feeds (live ones
// first, each group newest first): one
// statement. Callers check CanManage on each profile first (the loader behind
// CertificationProfile.calendarFeeds does).
func (s *Service) FeedsByProfileIDs(ctx context.Context, ids []uuid.UUID) ([][]Feed, error) {
	return s.store.FeedsByProfileIDs(ctx, ids)
}

// errNoFeed is the one answer for an unknown or revoked token.
var errNoFeed = apperr.Missing("calendar feed")

// maxToken bounds the tokens worth looking up.
const maxToken = 100

// Document is a rendered feed.
type Document struct {
	Body []byte
	// ETag is a strong validator of Body (quoted).
	ETag string
}

// Serve renders the feed behind token now. No caller is needed: the token is the secret.
// Codes: NOT_FOUND (unknown or revoked: the same error for each).
func (s *Service) Serve(ctx context.Context, token string) (Document, error) {
	if token == "" || len(token) > maxToken {
		return Document{}, errNoFeed
	}
	now := s.clock.Now()
	entries, ok, err := s.store.Entries(ctx, HashToken(token), date.Of(now))
	if err != nil {
		return Document{}, fmt.Errorf("read calendar feed: %w", err)
	}
	if !ok {
		return Document{}, errNoFeed
	}
	var events []Event
	for _, e := range entries {
		events = append(events, EventsOf(e, s.reminders(e.ExpiresOn), s.base)...)
	}
	body := Render(events)
	sum := sha256.Sum256(body)
	return Document{Body: body, ETag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}, nil
}

// Invite renders the events of one earned certification's current cycle as an iCalendar
// object with METHOD:PUBLISH (RenderInvite): the same events (UIDs, SEQUENCE, dates) the feeds of its profile serve for it, so a
// calendar that imports the window-open reminder's attachment and subscribes to a feed holds
// each event once. ok is false when the certification is not in a feed now (superseded,
// expired, retired, or without an assessment).
func (s *Service) Invite(ctx context.Context, earnedID uuid.UUID) ([]byte, bool, error) {
	e, ok, err := s.store.EntryByEarnedID(ctx, earnedID, date.Of(s.clock.Now()))
	if err != nil {
		return nil, false, fmt.Errorf("read calendar entry: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	return RenderInvite(EventsOf(e, s.reminders(e.ExpiresOn), s.base)), true, nil
}
