// Package team is the team view a learner controls (docs/domain.md "Team view"): the owner of a
// certification profile grants an organisation's tenant a live, revocable view of it, and that
// tenant's team managers list the learners who granted it, with their current certifications,
// expiry dates and renewal windows. Never e-mail, attempts, scores or exam history. Every
// manager read is counted on the grants it showed and audited.
package team

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/transcript"
)

// Grant is a profile owner's consent that the team managers of one tenant see the profile.
type Grant struct {
	ID        uuid.UUID
	ProfileID uuid.UUID
	TenantID  string
	// GrantedBy is the identity (auth.Principal.Identity) of the owner who granted it.
	GrantedBy string
	GrantedAt time.Time
	RevokedAt *time.Time
	// AccessCount counts the manager reads that showed this grant's profile.
	AccessCount    int64
	LastAccessedAt *time.Time
}

// Team is the team of one tenant, as its manager sees it.
type Team struct {
	TenantID string
}

// Of is the team p manages, or nil for anyone who manages none (see ManagedTenant).
func Of(p *auth.Principal) *Team {
	t, ok := ManagedTenant(p)
	if !ok {
		return nil
	}
	return &Team{TenantID: t}
}

// Member is one learner of a team: a profile whose owner granted the tenant access, as of one
// read. It holds only what a manager may see.
type Member struct {
	GrantID   uuid.UUID
	ProfileID uuid.UUID
	MCID      int64
	LegalName string
	// Certifications are the profile's current (not superseded) earned certifications,
	// nearest expiry first, fundamentals (no expiry) last; the first ListedCertifications.
	Certifications []Certification
	// Position is the member's place in the list it was read from (its cursor).
	Position Position
}

// MCIDString is the MCID as clients see it.
func (m *Member) MCIDString() string { return fmt.Sprint(m.MCID) }

// Certification is a member's current earned certification as a manager sees it.
type Certification struct {
	EarnedID  uuid.UUID
	Code      string
	Name      string
	Level     catalog.Level
	EarnedOn  date.Date
	ExpiresOn *date.Date
	// Status is the status on the day of the read (transcript.StatusAt).
	Status transcript.Status
	// WindowOpensOn is the first day of the renewal window; nil for fundamentals.
	WindowOpensOn *date.Date
	// NextAction is what the holder should do next about its renewal (renewal.StatusOf, the
	// rule the learner's own renewal status follows).
	NextAction renewal.NextAction
}

// Position is a keyset position in a team list: the sort key (the legal name, or with an
// expiry filter the nearest expiry date as YYYY-MM-DD) and the grant id.
type Position struct {
	Key     string
	GrantID uuid.UUID
}

// Filter narrows a team list.
type Filter struct {
	// ExpiringWithinDays keeps members with a certification that has not expired and expires
	// within that many days of today (0 to MaxExpiringWithinDays), sorted by that nearest
	// expiry; nil lists every member by legal name.
	ExpiringWithinDays *int
}

// MaxExpiringWithinDays bounds Filter.ExpiringWithinDays (ten years).
const MaxExpiringWithinDays = 3660

// Query is a team list as the store runs it.
type Query struct {
	TenantID string
	Today    date.Date
	// ExpiringThrough, when set, keeps members with a current certification expiring after
	// Today and on or before it, ordered by the nearest such expiry.
	ExpiringThrough *date.Date
	After           *Position
	// Limit is the number of members to read; 0 reads all (the CSV export). Only the first
	// Limit-1 are shown and counted: the last one tells whether more follow.
	Limit int
}

// Shown is how many of the members q reads are shown (and counted); -1 means all.
func (q Query) Shown() int {
	if q.Limit <= 0 {
		return -1
	}
	return q.Limit - 1
}

// Store is the persistence the team view needs.
type Store interface {
	audit.Store
	InTx(ctx context.Context, fn func(tx Store) error) error
	// LockProfile locks a certification profile row. Codes: NOT_FOUND.
	LockProfile(ctx context.Context, id uuid.UUID) (certprofile.Profile, error)
	// CountLiveGrants counts the unrevoked grants of a profile.
	CountLiveGrants(ctx context.Context, profileID uuid.UUID) (int, error)
	// LiveGrant is the unrevoked grant of a profile to a tenant, if any.
	LiveGrant(ctx context.Context, profileID uuid.UUID, tenantID string) (*Grant, error)
	InsertGrant(ctx context.Context, g Grant) (Grant, error)
	// GrantByID loads a grant. Codes: NOT_FOUND.
	GrantByID(ctx context.Context, id uuid.UUID) (Grant, error)
	// ProfileOf loads the profile of a grant (no lock). Codes: NOT_FOUND.
	ProfileOf(ctx context.Context, id uuid.UUID) (certprofile.Profile, error)
	// RevokeGrant sets revoked_at unless set already and returns the grant.
	RevokeGrant(ctx context.Context, id uuid.UUID, at time.Time) (Grant, error)
	// GrantsByProfileIDs lists each profile's grants, live ones first, newest first, at most
	// ListedGrants each.
	GrantsByProfileIDs(ctx context.Context, ids []uuid.UUID) ([][]Grant, error)
	// LockTenant serializes the manager reads of one tenant until the transaction ends, so
	// that reads counting access on the same grants never deadlock.
	LockTenant(ctx context.Context, tenantID string) error
	// Members runs q in one statement that also counts one access at `at` on each grant it
	// shows (q.Shown), and calls fn for each member in order, with its current certifications, as rows
	// arrive; it stops at fn's first error.
	Members(ctx context.Context, q Query, at time.Time, fn func(Member) error) error
}

// MaxLiveGrants caps the live grants of one profile (tenants it is shown to).
const MaxLiveGrants = 20

// ListedGrants caps the grants listed per profile: live ones first, then the latest revoked.
const ListedGrants = 50

// ListedCertifications caps the certifications listed per member (page and export alike):
// the first ones, nearest expiry first, fundamentals last. It is the bound the cost model
// prices TeamMember.certifications by, so that a page of 100 members with every documented
// field fits the default cost limit (12 + 100 × (2 + 50) = 5212 of 10000).
const ListedCertifications = 50

// Statuses reads the renewal status of the current earned certifications of profiles, by
// earned certification id (renewal.Service.CurrentStatuses).
type Statuses func(ctx context.Context, profileIDs []uuid.UUID, maxPerProfile int) (map[uuid.UUID]renewal.Status, error)

// Service manages grants and answers team managers.
type Service struct {
	store    Store
	clock    clock.Clock
	statuses Statuses
}

// NewService returns a Service on store; statuses gives each member certification its next
// action.
func NewService(store Store, clk clock.Clock, statuses Statuses) *Service {
	return &Service{store: store, clock: clk, statuses: statuses}
}

// statusBatch is how many members share one read of renewal statuses in an export.
const statusBatch = 100

// maxCertsPerMember bounds the certifications of a member whose renewal status is read
// (at least ListedCertifications).
const maxCertsPerMember = 100

// withNextActions sets the next action of every certification of members (one read).
func (s *Service) withNextActions(ctx context.Context, members []Member) error {
	ids := make([]uuid.UUID, len(members))
	for i := range members {
		ids[i] = members[i].ProfileID
	}
	st, err := s.statuses(ctx, ids, maxCertsPerMember)
	if err != nil {
		return fmt.Errorf("renewal statuses: %w", err)
	}
	for i := range members {
		for j := range members[i].Certifications {
			c := &members[i].Certifications[j]
			c.NextAction = renewal.NextNone
			if x, ok := st[c.EarnedID]; ok {
				c.NextAction = x.NextAction
			}
		}
	}
	return nil
}

// tenantIDPattern is the form of an Entra tenant id (a GUID), lower-case.
var tenantIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// normalTenant validates a tenant id given by a learner. Codes: BAD_USER_INPUT.
func normalTenant(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if !tenantIDPattern.MatchString(t) {
		return "", apperr.Invalid("tenantId must be a tenant id (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47)").With("field", "tenantId")
	}
	if t == auth.ConsumerTenantID {
		return "", apperr.Invalid("tenantId is the tenant of personal accounts, which has no team managers").With("field", "tenantId")
	}
	return t, nil
}

// ManagedTenant is the tenant whose team p manages: a work or school account whose token's
// `tid` is the tenant and whose `roles` hold team-manager. ok is false for anyone else.
func ManagedTenant(p *auth.Principal) (tenant string, ok bool) {
	if p == nil || p.Kind != auth.KindWorkOrSchool || !p.HasRole(auth.RoleTeamManager) {
		return "", false
	}
	t := strings.ToLower(p.TenantID)
	if !tenantIDPattern.MatchString(t) || t == auth.ConsumerTenantID {
		return "", false
	}
	return t, true
}

// ownedProfile locks a profile the caller owns, for a grant change. Codes: NOT_FOUND (missing
// or someone else's, never a hint it exists), FORBIDDEN (support: only the owner decides who
// sees their profile), PROFILE_ALREADY_MERGED.
func ownedProfile(ctx context.Context, tx Store, p *auth.Principal, id uuid.UUID) (certprofile.Profile, error) {
	prof, err := tx.LockProfile(ctx, id)
	if err != nil {
		return certprofile.Profile{}, err
	}
	if !certprofile.CanView(p, &prof) {
		return certprofile.Profile{}, apperr.Missing("certification profile")
	}
	if !certprofile.IsOwner(p, &prof) {
		return certprofile.Profile{}, apperr.Deny("only the profile's owner grants or revokes team access")
	}
	return prof, nil
}

// Grant gives the team managers of tenantID a view of the caller's profile. Granting a tenant
// that holds a live grant already returns that grant (a retry is safe).
// Codes: UNAUTHENTICATED, BAD_USER_INPUT (not a tenant id, or the personal-account tenant),
// NOT_FOUND, FORBIDDEN (support), PROFILE_ALREADY_MERGED (grant the survivor), LIMIT_EXCEEDED
// (MaxLiveGrants; extensions resource "teamAccessGrants"). The profile row is locked while its
// grants are counted.
func (s *Service) Grant(ctx context.Context, p *auth.Principal, profileID uuid.UUID, tenantID string) (Grant, error) {
	if p == nil {
		return Grant{}, apperr.Unauth("sign in to grant team access")
	}
	tenant, err := normalTenant(tenantID)
	if err != nil {
		return Grant{}, err
	}
	now := s.clock.Now()
	var out Grant
	err = s.store.InTx(ctx, func(tx Store) error {
		prof, err := ownedProfile(ctx, tx, p, profileID)
		if err != nil {
			return err
		}
		if prof.Status == certprofile.StatusMerged {
			return apperr.E(apperr.ProfileAlreadyMerged, "this profile was merged into another one; grant access to that one instead")
		}
		live, err := tx.LiveGrant(ctx, prof.ID, tenant)
		if err != nil || live != nil {
			if live != nil {
				out = *live
			}
			return err
		}
		n, err := tx.CountLiveGrants(ctx, prof.ID)
		if err != nil {
			return err
		}
		if n >= MaxLiveGrants {
			return apperr.Limit("teamAccessGrants", MaxLiveGrants,
				"a profile may be shown to at most %d tenants; revoke a grant first", MaxLiveGrants)
		}
		if out, err = tx.InsertGrant(ctx, Grant{ProfileID: prof.ID, TenantID: tenant, GrantedBy: p.Identity(), GrantedAt: now}); err != nil {
			return err
		}
		ev, err := audit.New("team.grant", p.Identity(), map[string]any{"grantId": out.ID, "tenantId": tenant}, now, prof.ID)
		if err != nil {
			return err
		}
		_, err = tx.InsertAudit(ctx, ev)
		return err
	})
	if err != nil {
		return Grant{}, fmt.Errorf("grant team access: %w", err)
	}
	return out, nil
}

// Revoke ends a grant: the tenant's managers no longer see the profile from their next
// request on. Revoking again changes nothing. Codes: UNAUTHENTICATED, NOT_FOUND (no such
// grant, or someone else's), FORBIDDEN (support).
func (s *Service) Revoke(ctx context.Context, p *auth.Principal, grantID uuid.UUID) (Grant, error) {
	if p == nil {
		return Grant{}, apperr.Unauth("sign in to revoke team access")
	}
	now := s.clock.Now()
	var out Grant
	err := s.store.InTx(ctx, func(tx Store) error {
		g, err := tx.GrantByID(ctx, grantID)
		if err != nil {
			return err
		}
		if _, err := ownedProfile(ctx, tx, p, g.ProfileID); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return apperr.Missing("team access grant")
			}
			return err
		}
		if g.RevokedAt != nil {
			out = g
			return nil
		}
		if out, err = tx.RevokeGrant(ctx, grantID, now); err != nil {
			return err
		}
		ev, err := audit.New("team.revoke", p.Identity(), map[string]any{"grantId": g.ID, "tenantId": g.TenantID}, now, g.ProfileID)
		if err != nil {
			return err
		}
		_, err = tx.InsertAudit(ctx, ev)
		return err
	})
	if err != nil {
		return Grant{}, fmt.Errorf("revoke team access: %w", err)
	}
	return out, nil
}

// CanSeeGrants reports whether p may see the grants of prof: its owner only.
// Codes: UNAUTHENTICATED, FORBIDDEN.
func CanSeeGrants(p *auth.Principal, prof *certprofile.Profile) error {
	if p == nil {
		return apperr.Unauth("sign in to see team access grants")
	}
	if !certprofile.IsOwner(p, prof) {
		return apperr.Deny("only the profile's owner sees its team access grants")
	}
	return nil
}

// GrantsOf lists the grants of profiles p owns, for each id in order; a profile p does not own
// gets FORBIDDEN in errs. Codes: UNAUTHENTICATED.
func (s *Service) GrantsOf(ctx context.Context, p *auth.Principal, profiles []*certprofile.Profile) ([][]Grant, []error) {
	out, errs := make([][]Grant, len(profiles)), make([]error, len(profiles))
	var ids []uuid.UUID
	var at []int
	for i, prof := range profiles {
		if errs[i] = CanSeeGrants(p, prof); errs[i] == nil {
			ids, at = append(ids, prof.ID), append(at, i)
		}
	}
	if len(ids) == 0 {
		return out, errs
	}
	lists, err := s.store.GrantsByProfileIDs(ctx, ids)
	for j, i := range at {
		if err != nil {
			errs[i] = err
			continue
		}
		out[i] = lists[j]
	}
	return out, errs
}

// Grant loads one grant for its profile's owner. Codes: UNAUTHENTICATED, NOT_FOUND.
func (s *Service) GrantByID(ctx context.Context, p *auth.Principal, id uuid.UUID) (Grant, error) {
	if p == nil {
		return Grant{}, apperr.Unauth("sign in to see team access grants")
	}
	g, err := s.store.GrantByID(ctx, id)
	if err != nil {
		return Grant{}, err
	}
	prof, err := s.store.ProfileOf(ctx, g.ProfileID)
	if err != nil {
		return Grant{}, err
	}
	if CanSeeGrants(p, &prof) != nil {
		return Grant{}, apperr.Missing("team access grant")
	}
	return g, nil
}

// query validates a filter into the store's query for tenant on today.
// Codes: BAD_USER_INPUT.
func query(tenant string, today date.Date, f Filter) (Query, error) {
	q := Query{TenantID: tenant, Today: today}
	if n := f.ExpiringWithinDays; n != nil {
		if *n < 0 || *n > MaxExpiringWithinDays {
			return Query{}, apperr.Invalid("expiringWithinDays must be between 0 and %d", MaxExpiringWithinDays).
				With("argument", "expiringWithinDays")
		}
		through := today.AddDays(*n)
		q.ExpiringThrough = &through
	}
	return q, nil
}

// Page is one page of a team list.
type Page struct {
	Members []Member
	// More tells whether members follow the page.
	More bool
}

// Members is one page of the team p manages: limit members after the position after.
// Reading it counts one access on each grant shown and records one audit event linked to the
// members' profiles. Codes: FORBIDDEN (p manages no team), BAD_USER_INPUT (filter).
func (s *Service) Members(ctx context.Context, p *auth.Principal, f Filter, after *Position, limit int) (Page, error) {
	var pg Page
	err := s.read(ctx, p, f, "team.read", func(q *Query) {
		q.After, q.Limit = after, limit+1
	}, nil, func(m Member) error {
		pg.Members = append(pg.Members, m)
		return nil
	}, nil)
	if err != nil {
		return Page{}, err
	}
	if len(pg.Members) > limit {
		pg.Members, pg.More = pg.Members[:limit], true
	}
	if err := s.withNextActions(ctx, pg.Members); err != nil {
		return Page{}, err
	}
	return pg, nil
}

// Export streams every member of the team p manages to fn, in the order of Members, in
// constant memory: members are passed on as the database sends them. Each grant shown is
// counted and the export is audited (one event for the tenant, with the number of members).
// begin runs once p is known to be a manager and the filter valid, before the first member
// (an HTTP handler writes its headers there). Codes: FORBIDDEN, BAD_USER_INPUT.
func (s *Service) Export(ctx context.Context, p *auth.Principal, f Filter, begin func() error, fn func(Member) error) error {
	// Members go on in batches: each batch's next actions are one read.
	batch := make([]Member, 0, statusBatch)
	flush := func() error {
		if err := s.withNextActions(ctx, batch); err != nil {
			return err
		}
		for _, m := range batch {
			if err := fn(m); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	return s.read(ctx, p, f, "team.export", func(*Query) {}, begin, func(m Member) error {
		if batch = append(batch, m); len(batch) == statusBatch {
			return flush()
		}
		return nil
	}, flush)
}

// read runs a manager read of the tenant p manages in one transaction: the tenant's lock, the
// one statement that reads the members and counts the access, and the audit event.
// done, when set, runs after the last member, inside the transaction.
func (s *Service) read(ctx context.Context, p *auth.Principal, f Filter, action string, shape func(*Query),
	begin func() error, fn func(Member) error, done func() error) error {
	tenant, ok := ManagedTenant(p)
	if !ok {
		return apperr.Deny("only a team manager of a work or school tenant sees a team")
	}
	now := s.clock.Now()
	q, err := query(tenant, date.Of(now), f)
	if err != nil {
		return err
	}
	shape(&q)
	if begin != nil {
		if err := begin(); err != nil {
			return err
		}
	}
	// A page links its event to the members' profiles (at most a page of ids); an export
	// records only how many it showed, so its memory does not grow with the team.
	var shown int
	var profiles []uuid.UUID
	err = s.store.InTx(ctx, func(tx Store) error {
		shown, profiles = 0, profiles[:0]
		if err := tx.LockTenant(ctx, tenant); err != nil {
			return err
		}
		err := tx.Members(ctx, q, now, func(m Member) error {
			for i := range m.Certifications {
				m.Certifications[i].settle(q.Today)
			}
			if q.Shown() < 0 || shown < q.Shown() {
				shown++
				if q.Shown() > 0 {
					profiles = append(profiles, m.ProfileID)
				}
			}
			return fn(m)
		})
		if err == nil && done != nil {
			err = done()
		}
		if err != nil || shown == 0 {
			return err
		}
		ev, err := audit.New(action, p.Identity(), map[string]any{"tenantId": tenant, "members": shown}, now, profiles...)
		if err != nil {
			return err
		}
		_, err = tx.InsertAudit(ctx, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return nil
}

// settle sets the status and window of c on the calendar day today (the earned
// certifications' rules: transcript.StatusAt, transcript.WindowOpensOn).
func (c *Certification) settle(today date.Date) {
	c.Status = transcript.StatusAt(transcript.Earned{EarnedOn: c.EarnedOn, ExpiresOn: c.ExpiresOn}, today)
	c.WindowOpensOn = nil
	if c.ExpiresOn != nil {
		w := transcript.WindowOpensOn(*c.ExpiresOn)
		c.WindowOpensOn = &w
	}
}
