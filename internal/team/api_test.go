package team_test

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/team"
)

// The tenants of the tests: T1 has members, T2 one other member.
const (
	tenant1 = "11111111-1111-4111-8111-111111111111"
	tenant2 = "22222222-2222-4222-8222-222222222222"
)

func opaque(kind, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id))
}

type learner struct {
	who       apitest.Identity
	profileID string // opaque
	uuid      string
	mcid      string
}

// newLearner creates a learner with a certification profile named name.
func newLearner(t *testing.T, env *apitest.Env, sub, name string) learner {
	t.Helper()
	l := learner{who: apitest.Learner(sub)}
	var out struct {
		CreateCertificationProfile struct {
			CertificationProfile struct{ ID, MCID string } `json:"certificationProfile"`
		} `json:"createCertificationProfile"`
	}
	env.MustDo(l.who, `mutation($in: CreateCertificationProfileInput!) { createCertificationProfile(input: $in) {
  certificationProfile { id mcid } } }`, map[string]any{"in": map[string]any{"legalName": name, "email": l.who.Email}}, &out)
	l.profileID, l.mcid = out.CreateCertificationProfile.CertificationProfile.ID, out.CreateCertificationProfile.CertificationProfile.MCID
	raw, _ := base64.RawURLEncoding.DecodeString(l.profileID)
	_, l.uuid, _ = strings.Cut(string(raw), ":")
	return l
}

// earn gives l the certification code, earned earnedDaysAgo days before the clock's day and
// expiring expiresInDays after it (no expiry when expiresInDays is nil: fundamentals).
func (l learner) earn(t *testing.T, env *apitest.Env, code string, earnedDaysAgo int, expiresInDays *int) {
	t.Helper()
	day := env.Clock.Now().Format("2006-01-02")
	if _, err := env.DB.Exec(`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT $1::uuid, c.id, $2::date - $3::int, $2::date + $4::int, $2::timestamptz FROM certifications c WHERE c.code = $5`,
		l.uuid, day, earnedDaysAgo, expiresInDays, code); err != nil {
		t.Fatalf("earn %s: %v", code, err)
	}
}

func days(n int) *int { return &n }

const grantMutation = `mutation($in: GrantTeamAccessInput!) { grantTeamAccess(input: $in) {
  teamAccessGrant { id tenantId grantedAt revokedAt accessCount lastAccessedAt } } }`

type grantOut struct {
	ID             string
	TenantID       string
	GrantedAt      string
	RevokedAt      *string
	AccessCount    int
	LastAccessedAt *string
}

func (l learner) grant(t *testing.T, env *apitest.Env, tenant string) grantOut {
	t.Helper()
	var out struct {
		GrantTeamAccess struct{ TeamAccessGrant grantOut } `json:"grantTeamAccess"`
	}
	env.MustDo(l.who, grantMutation, map[string]any{"in": map[string]any{"certificationProfileId": l.profileID, "tenantId": tenant}}, &out)
	return out.GrantTeamAccess.TeamAccessGrant
}

func (l learner) grants(t *testing.T, env *apitest.Env) []grantOut {
	t.Helper()
	var out struct {
		Node struct{ TeamAccessGrants []grantOut } `json:"node"`
	}
	env.MustDo(l.who, `query($id: ID!) { node(id: $id) { ... on CertificationProfile {
  teamAccessGrants { id tenantId grantedAt revokedAt accessCount lastAccessedAt } } } }`, map[string]any{"id": l.profileID}, &out)
	return out.Node.TeamAccessGrants
}

type memberCert struct {
	Code                 string
	Name                 string
	Level                string
	EarnedOn             string
	ExpiresOn            *string
	Status               string
	RenewalWindowOpensOn *string
	NextAction           string
}

type member struct {
	LegalName      string
	MCID           string
	Certifications []memberCert
}

type membersPage struct {
	Members []member
	Cursors []string
	HasNext bool
}

const membersQuery = `query($first: Int, $after: String, $days: Int) { team { tenantId members(first: $first, after: $after, expiringWithinDays: $days) {
  edges { cursor node { legalName mcid certifications { code name level earnedOn expiresOn status renewalWindowOpensOn nextAction } } }
  pageInfo { hasNextPage endCursor } } } }`

// members reads one page of the caller's team; ok is false when team is null.
func members(t *testing.T, env *apitest.Env, who apitest.Identity, first int, after string, within *int) (membersPage, bool) {
	t.Helper()
	vars := map[string]any{"first": first}
	if after != "" {
		vars["after"] = after
	}
	if within != nil {
		vars["days"] = *within
	}
	var out struct {
		Team *struct {
			TenantID string
			Members  struct {
				Edges []struct {
					Cursor string
					Node   member
				}
				PageInfo struct{ HasNextPage bool }
			}
		}
	}
	env.MustDo(who, membersQuery, vars, &out)
	if out.Team == nil {
		return membersPage{}, false
	}
	var pg membersPage
	for _, e := range out.Team.Members.Edges {
		pg.Members, pg.Cursors = append(pg.Members, e.Node), append(pg.Cursors, e.Cursor)
	}
	pg.HasNext = out.Team.Members.PageInfo.HasNextPage
	return pg, true
}

func names(ms []member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.LegalName)
	}
	return out
}

// teamFixture: Ada (T1; a certification expiring in 30 days and a fundamentals one), Bob (T1;
// expiring in 200 days), Cy (T2 only) and Dee (no grant).
type teamFixture struct {
	ada, bob, cy, dee learner
	adaGrant          grantOut
}

func newTeamFixture(t *testing.T, env *apitest.Env) teamFixture {
	t.Helper()
	f := teamFixture{
		ada: newLearner(t, env, "ada", "Ada Alpha"),
		bob: newLearner(t, env, "bob", "Bob Beta"),
		cy:  newLearner(t, env, "cy", "Cy Gamma"),
		dee: newLearner(t, env, "dee", "Dee Delta"),
	}
	f.ada.earn(t, env, "azure-administrator-associate", 335, days(30))
	f.ada.earn(t, env, "azure-fundamentals", 100, nil)
	f.bob.earn(t, env, "azure-developer-associate", 165, days(200))
	f.cy.earn(t, env, "azure-developer-associate", 10, days(355))
	f.dee.earn(t, env, "azure-developer-associate", 10, days(20))
	f.adaGrant = f.ada.grant(t, env, tenant1)
	f.bob.grant(t, env, tenant1)
	f.cy.grant(t, env, tenant2)
	return f
}

func TestManagersSeeOnlyTheLearnersWhoGrantedTheirTenant(t *testing.T) {
	env := apitest.New(t)
	f := newTeamFixture(t, env)
	m1 := apitest.TeamManager("manager-1", tenant1)

	pg, ok := members(t, env, m1, 20, "", nil)
	if !ok {
		t.Fatal("a team manager of tenant 1 got no team")
	}
	if got := names(pg.Members); !slices.Equal(got, []string{"Ada Alpha", "Bob Beta"}) {
		t.Fatalf("tenant 1 members = %v, want Ada and Bob by name", got)
	}
	ada := pg.Members[0]
	if ada.MCID != f.ada.mcid || len(ada.Certifications) != 2 {
		t.Fatalf("Ada = %+v", ada)
	}
	// Nearest expiry first, fundamentals last; the dates are the renewal rules' dates.
	admin, fund := ada.Certifications[0], ada.Certifications[1]
	if admin.Code != "azure-administrator-associate" || admin.Status != "RENEWABLE" || *admin.ExpiresOn != "2021-03-31" ||
		*admin.RenewalWindowOpensOn != "2020-09-30" || admin.EarnedOn != "2020-03-31" || admin.Level != "ASSOCIATE" {
		t.Fatalf("Ada's administrator certification = %+v", admin)
	}
	// Next actions by the renewal rules: Ada's profile is not connected, so her renewable
	// certification waits for the connection; fundamentals have nothing to renew; Bob's window
	// has not opened.
	if admin.NextAction != "CONNECT_PROFILE" || fund.NextAction != "NONE" || pg.Members[1].Certifications[0].NextAction != "WAIT_FOR_WINDOW" {
		t.Fatalf("next actions: Ada %s and %s, Bob %s", admin.NextAction, fund.NextAction, pg.Members[1].Certifications[0].NextAction)
	}
	if fund.Code != "azure-fundamentals" || fund.Status != "ACTIVE" || fund.ExpiresOn != nil || fund.RenewalWindowOpensOn != nil {
		t.Fatalf("Ada's fundamentals = %+v", fund)
	}
	if bob := pg.Members[1].Certifications[0]; bob.Status != "ACTIVE" || *bob.ExpiresOn != "2021-09-17" || *bob.RenewalWindowOpensOn != "2021-03-17" {
		t.Fatalf("Bob's certification = %+v", bob)
	}

	// Once Ada connects her profile, the manager sees that she can start the assessment.
	env.MustDo(f.ada.who, `mutation($in: LinkCertificationProfileInput!) { linkCertificationProfile(input: $in) { certificationProfile { id } } }`,
		map[string]any{"in": map[string]any{"certificationProfileId": f.ada.profileID}}, nil)
	if pg, _ := members(t, env, m1, 20, "", nil); pg.Members[0].Certifications[0].NextAction != "START_ASSESSMENT" {
		t.Fatalf("after linking: %+v", pg.Members[0].Certifications[0])
	}

	// The other tenant's manager sees only Cy.
	pg2, ok := members(t, env, apitest.TeamManager("manager-2", tenant2), 20, "", nil)
	if !ok || !slices.Equal(names(pg2.Members), []string{"Cy Gamma"}) {
		t.Fatalf("tenant 2 members = %v (team %v)", names(pg2.Members), ok)
	}

	// No team at all for a personal account, a work account without the role, a team manager
	// on a personal account, support and an anonymous caller.
	personalManager := apitest.TeamManager("pm", tenant1)
	personalManager.Personal = true
	for who, id := range map[string]apitest.Identity{
		"learner": f.ada.who, "work account without the role": {Subject: "w", TenantID: tenant1, Email: "w@contoso.example"},
		"personal account with the role": personalManager, "support": apitest.Support("agent"), "anonymous": apitest.Anonymous,
	} {
		if resp := env.Do(id, membersQuery, map[string]any{"first": 20}); len(resp.Errors) != 0 || string(resp.Data) != `{"team":null}` {
			t.Fatalf("%s: got %s", who, resp.Raw)
		}
	}
}

// TestTeamMembersShowNothingPrivate: the types a manager reaches hold no e-mail, attempts,
// scores or exam history, by the schema itself.
func TestTeamMembersShowNothingPrivate(t *testing.T) {
	env := apitest.New(t)
	var out struct {
		Member, Cert struct {
			Fields []struct{ Name string }
		}
	}
	env.MustDo(apitest.Anonymous, `{ Member: __type(name: "TeamMember") { fields { name } }
  Cert: __type(name: "TeamMemberCertification") { fields { name } } }`, nil, &out)
	var got []string
	for _, f := range append(out.Member.Fields, out.Cert.Fields...) {
		got = append(got, f.Name)
	}
	slices.Sort(got)
	want := []string{"certifications", "code", "earnedOn", "expiresOn", "legalName", "level", "mcid", "name", "nextAction", "renewalWindowOpensOn", "status"}
	if !slices.Equal(got, want) {
		t.Fatalf("a manager's view has fields %v, want exactly %v (never e-mail, attempts, scores or exam history)", got, want)
	}
}

func TestExpiringWithinDaysKeepsAndSortsByNearestExpiry(t *testing.T) {
	env := apitest.New(t)
	f := newTeamFixture(t, env)
	f.dee.grant(t, env, tenant1) // expiring in 20 days: before Ada's 30
	m1 := apitest.TeamManager("manager-1", tenant1)
	for _, c := range []struct {
		within int
		want   []string
	}{
		{19, nil},
		{20, []string{"Dee Delta"}},
		{60, []string{"Dee Delta", "Ada Alpha"}},
		{365, []string{"Dee Delta", "Ada Alpha", "Bob Beta"}},
	} {
		pg, _ := members(t, env, m1, 20, "", &c.within)
		if got := names(pg.Members); !slices.Equal(got, c.want) {
			t.Fatalf("expiringWithinDays %d: %v, want %v", c.within, got, c.want)
		}
	}
	// An expired certification is not "expiring".
	env.Clock.Advance(25 * 24 * time.Hour)
	pg, _ := members(t, env, m1, 20, "", days(10))
	if got := names(pg.Members); !slices.Equal(got, []string{"Ada Alpha"}) {
		t.Fatalf("after Dee's expiry, within 10 days: %v, want Ada", got)
	}
	for _, bad := range []int{-1, team.MaxExpiringWithinDays + 1} {
		env.MustFail(m1, membersQuery, map[string]any{"first": 20, "days": bad}, "BAD_USER_INPUT")
	}
}

func TestTeamMembersPageWithCursors(t *testing.T) {
	env := apitest.New(t)
	f := newTeamFixture(t, env)
	f.dee.grant(t, env, tenant1)
	m1 := apitest.TeamManager("manager-1", tenant1)
	var got []string
	after := ""
	for range 4 {
		pg, _ := members(t, env, m1, 1, after, nil)
		got = append(got, names(pg.Members)...)
		if !pg.HasNext {
			break
		}
		after = pg.Cursors[0]
	}
	if !slices.Equal(got, []string{"Ada Alpha", "Bob Beta", "Dee Delta"}) {
		t.Fatalf("paged by one: %v", got)
	}
	// With the filter, the cursor is the nearest expiry.
	pg, _ := members(t, env, m1, 1, "", days(365))
	next, _ := members(t, env, m1, 2, pg.Cursors[0], days(365))
	if !slices.Equal(append(names(pg.Members), names(next.Members)...), []string{"Dee Delta", "Ada Alpha", "Bob Beta"}) || next.HasNext {
		t.Fatalf("filtered pages: %v then %v (more %v)", names(pg.Members), names(next.Members), next.HasNext)
	}
	env.MustFail(m1, membersQuery, map[string]any{"first": 1, "after": "bm90IGEgY3Vyc29y"}, "BAD_USER_INPUT")
}

func TestRevokeTakesEffectOnTheNextRequest(t *testing.T) {
	env := apitest.New(t)
	f := newTeamFixture(t, env)
	m1 := apitest.TeamManager("manager-1", tenant1)
	if pg, _ := members(t, env, m1, 20, "", nil); len(pg.Members) != 2 {
		t.Fatalf("before: %v", names(pg.Members))
	}
	var out struct {
		RevokeTeamAccess struct{ TeamAccessGrant grantOut } `json:"revokeTeamAccess"`
	}
	revoke := `mutation($id: ID!) { revokeTeamAccess(input: {teamAccessGrantId: $id}) { teamAccessGrant { id revokedAt } } }`
	env.MustDo(f.ada.who, revoke, map[string]any{"id": f.adaGrant.ID}, &out)
	if out.RevokeTeamAccess.TeamAccessGrant.RevokedAt == nil {
		t.Fatal("revokedAt not set")
	}
	if pg, _ := members(t, env, m1, 20, "", nil); !slices.Equal(names(pg.Members), []string{"Bob Beta"}) {
		t.Fatalf("after Ada's revocation: %v", names(pg.Members))
	}
	// Someone else cannot revoke or see a grant; support may not act for the owner.
	env.MustFail(f.bob.who, revoke, map[string]any{"id": f.adaGrant.ID}, "NOT_FOUND")
	env.MustFail(apitest.Support("agent"), revoke, map[string]any{"id": f.adaGrant.ID}, "FORBIDDEN")
	// Granting again makes a new live grant.
	if g := f.ada.grant(t, env, tenant1); g.ID == f.adaGrant.ID || g.RevokedAt != nil {
		t.Fatalf("re-grant = %+v", g)
	}
	if pg, _ := members(t, env, m1, 20, "", nil); len(pg.Members) != 2 {
		t.Fatalf("after the new grant: %v", names(pg.Members))
	}
}

func TestGrantRules(t *testing.T) {
	env := apitest.New(t)
	f := newTeamFixture(t, env)
	in := func(profile, tenant string) map[string]any {
		return map[string]any{"in": map[string]any{"certificationProfileId": profile, "tenantId": tenant}}
	}
	// Granting again returns the same live grant (a retry is safe); case does not matter.
	if g := f.ada.grant(t, env, strings.ToUpper(tenant1)); g.ID != f.adaGrant.ID || g.TenantID != tenant1 {
		t.Fatalf("second grant = %+v, want %s", g, f.adaGrant.ID)
	}
	env.MustFail(f.bob.who, grantMutation, in(f.ada.profileID, tenant2), "NOT_FOUND")
	env.MustFail(apitest.Support("agent"), grantMutation, in(f.ada.profileID, tenant2), "FORBIDDEN")
	env.MustFail(apitest.Anonymous, grantMutation, in(f.ada.profileID, tenant2), "UNAUTHENTICATED")
	for _, bad := range []string{"contoso", "9188040d-6c67-4c5b-b112-36a304b66dad", ""} {
		env.MustFail(f.ada.who, grantMutation, in(f.ada.profileID, bad), "BAD_USER_INPUT")
	}
	// The owner sees their grants; no one else does.
	if gs := f.ada.grants(t, env); len(gs) != 1 || gs[0].ID != f.adaGrant.ID {
		t.Fatalf("Ada's grants = %+v", gs)
	}
	resp := env.Do(apitest.Support("agent"), `query($id: ID!) { node(id: $id) { ... on CertificationProfile { teamAccessGrants { id } } } }`,
		map[string]any{"id": f.ada.profileID})
	if len(resp.Errors) != 1 || resp.Errors[0].Code() != "FORBIDDEN" {
		t.Fatalf("support reading grants: %s", resp.Raw)
	}
	// At most MaxLiveGrants tenants at once.
	for i := 1; i < team.MaxLiveGrants; i++ {
		f.ada.grant(t, env, fmt.Sprintf("33333333-3333-4333-8333-%012d", i))
	}
	e := env.MustFail(f.ada.who, grantMutation, in(f.ada.profileID, "44444444-4444-4444-8444-444444444444"), "LIMIT_EXCEEDED")
	if e.Extensions["resource"] != "teamAccessGrants" {
		t.Fatalf("limit error = %+v", e)
	}
}

func TestConcurrentGrantsMakeOneLiveGrant(t *testing.T) {
	env := apitest.New(t)
	ada := newLearner(t, env, "ada", "Ada Alpha")
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct {
				GrantTeamAccess struct{ TeamAccessGrant grantOut } `json:"grantTeamAccess"`
			}
			resp := env.Do(ada.who, grantMutation, map[string]any{"in": map[string]any{"certificationProfileId": ada.profileID, "tenantId": tenant1}})
			if len(resp.Errors) > 0 {
				t.Errorf("grant %d: %s", i, resp.Raw)
				return
			}
			if err := json.Unmarshal(resp.Data, &out); err != nil {
				t.Errorf("decode: %v", err)
			}
			ids[i] = out.GrantTeamAccess.TeamAccessGrant.ID
		}()
	}
	wg.Wait()
	var rows int
	if err := env.DB.QueryRow(`SELECT count(*) FROM team_access_grants`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("grants stored = %d (%v), want 1", rows, err)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent grants answered different grants: %v", ids)
		}
	}
}

func TestEveryManagerReadIsCountedAndAudited(t *testing.T) {
	env := apitest.New(t)
	f := newTeamFixture(t, env)
	m1 := apitest.TeamManager("manager-1", tenant1)
	members(t, env, m1, 20, "", nil)
	env.Clock.Advance(time.Hour)
	members(t, env, m1, 1, "", nil)                                         // shows Ada only (Bob is the look-ahead row)
	members(t, env, m1, 20, "", days(1))                                    // shows no one
	members(t, env, apitest.TeamManager("manager-2", tenant2), 20, "", nil) // another tenant

	gs := f.ada.grants(t, env)
	if len(gs) != 1 || gs[0].AccessCount != 2 || gs[0].LastAccessedAt == nil || *gs[0].LastAccessedAt != "2021-03-01T10:00:00Z" {
		t.Fatalf("Ada's grant after two reads = %+v", gs)
	}
	if gs := f.bob.grants(t, env); gs[0].AccessCount != 1 {
		t.Fatalf("Bob's grant = %+v, want 1 access (the look-ahead row is not shown)", gs)
	}
	var events, adaLinks int
	if err := env.DB.QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'team.read' AND actor LIKE '%|manager-1'`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.QueryRow(`SELECT count(*) FROM audit_event_profiles x JOIN audit_events e ON e.id = x.event_id
WHERE e.action = 'team.read' AND x.profile_id = $1`, f.ada.uuid).Scan(&adaLinks); err != nil {
		t.Fatal(err)
	}
	if events != 2 || adaLinks != 2 {
		t.Fatalf("audit: %d team.read events of manager-1 (want 2), %d linked to Ada (want 2)", events, adaLinks)
	}
}

func TestMergeMovesGrantsToTheSurvivor(t *testing.T) {
	env := apitest.New(t)
	ada := newLearner(t, env, "ada", "Ada Alpha")
	dup := newLearnerOf(t, env, ada.who, "Ada Alpha")
	dupGrant1 := dup.grant(t, env, tenant1)
	dup.grant(t, env, tenant2)
	ada.grant(t, env, tenant2) // the survivor has tenant 2 already
	env.MustDo(apitest.Support("agent"), `mutation($in: MergeCertificationProfilesInput!) { mergeCertificationProfiles(input: $in) { survivor { id } } }`,
		map[string]any{"in": map[string]any{"survivorId": ada.profileID, "duplicateId": dup.profileID, "reason": "same person", "idempotencyKey": uuid.NewString()}}, nil)
	gs := ada.grants(t, env)
	var live []string
	for _, g := range gs {
		if g.RevokedAt == nil {
			live = append(live, g.TenantID)
		}
	}
	slices.Sort(live)
	if !slices.Equal(live, []string{tenant1, tenant2}) || !slices.ContainsFunc(gs, func(g grantOut) bool { return g.ID == dupGrant1.ID }) {
		t.Fatalf("survivor's grants after the merge = %+v", gs)
	}
	for _, tn := range []string{tenant1, tenant2} {
		pg, _ := members(t, env, apitest.TeamManager("m-"+tn[:1], tn), 20, "", nil)
		if len(pg.Members) != 1 || pg.Members[0].MCID != ada.mcid {
			t.Fatalf("tenant %s sees %+v after the merge, want the survivor once", tn, pg.Members)
		}
	}
}

// newLearnerOf creates another certification profile for the account of who.
func newLearnerOf(t *testing.T, env *apitest.Env, who apitest.Identity, name string) learner {
	t.Helper()
	l := newLearner(t, env, who.Subject, name)
	return l
}

// csvRows fetches GET /team/members.csv as who.
func csvRows(t *testing.T, env *apitest.Env, who apitest.Identity, query string) (int, [][]string, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/team/members.csv"+query, nil)
	if who.Subject != "" {
		req.Header.Set("Authorization", "Bearer "+env.Token(who))
	}
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec.Code, nil, rec.Body.String()
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	return rec.Code, rows, rec.Header().Get("Content-Type")
}

// graphRows are the CSV rows of the GraphQL members, built from the API's answer.
func graphRows(ms []member) [][]string {
	rows := [][]string{team.CSVHeader}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, m := range ms {
		if len(m.Certifications) == 0 {
			rows = append(rows, []string{m.MCID, m.LegalName, "", "", "", "", "", "", "", ""})
		}
		for _, c := range m.Certifications {
			rows = append(rows, []string{m.MCID, m.LegalName, c.Code, c.Name, c.Level, c.Status, c.EarnedOn, s(c.ExpiresOn), s(c.RenewalWindowOpensOn), c.NextAction})
		}
	}
	return rows
}

func TestCSVEqualsTheGraphQLRows(t *testing.T) {
	env := apitest.New(t)
	f := newTeamFixture(t, env)
	f.dee.grant(t, env, tenant1)
	eve := newLearner(t, env, "eve", "=HYPERLINK(\"x\")") // no certification, a formula-like name
	eve.grant(t, env, tenant1)
	m1 := apitest.TeamManager("manager-1", tenant1)
	for _, q := range []struct {
		query  string
		within *int
	}{{"", nil}, {"?expiringWithinDays=60", days(60)}, {"?expiringWithinDays=365", days(365)}} {
		pg, _ := members(t, env, m1, 50, "", q.within)
		want := graphRows(pg.Members)
		for i := range want {
			if strings.HasPrefix(want[i][1], "=") {
				want[i][1] = "'" + want[i][1] // kept as text in a spreadsheet
			}
		}
		code, got, ctype := csvRows(t, env, m1, q.query)
		if code != http.StatusOK || !strings.HasPrefix(ctype, "text/csv") {
			t.Fatalf("%q: status %d, %s", q.query, code, ctype)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: CSV\n%v\nGraphQL\n%v", q.query, got, want)
		}
	}
	for who, c := range map[string]struct {
		id     apitest.Identity
		query  string
		status int
	}{
		"learner":       {f.ada.who, "", http.StatusForbidden},
		"anonymous":     {apitest.Anonymous, "", http.StatusForbidden},
		"bad filter":    {m1, "?expiringWithinDays=soon", http.StatusBadRequest},
		"filter bounds": {m1, "?expiringWithinDays=-3", http.StatusBadRequest},
	} {
		if code, _, body := csvRows(t, env, c.id, c.query); code != c.status || !strings.Contains(body, `"code"`) {
			t.Fatalf("%s: status %d body %s, want %d with an error code", who, code, body, c.status)
		}
	}
}

// TestCSVStreamsAsRowsArrive checks the export's memory stays flat: the rows reach the writer
// member by member as the database sends them, not as one buffer of the whole team.
func TestCSVStreamsAsRowsArrive(t *testing.T) {
	env := apitest.New(t)
	seedMembers(t, env, tenant1, 3000)
	m1 := apitest.TeamManager("manager-1", tenant1)
	req := httptest.NewRequest(http.MethodGet, "/team/members.csv", nil)
	req.Header.Set("Authorization", "Bearer "+env.Token(m1))
	w := &countingWriter{header: http.Header{}}
	env.Server.Handler().ServeHTTP(w, req)
	if w.status != http.StatusOK || w.rows != 3001 {
		t.Fatalf("status %d, %d lines", w.status, w.rows)
	}
	// The writer received the rows in many writes (streamed), not one buffer at the end.
	if w.writes < 10 {
		t.Fatalf("the export arrived in %d writes: not streamed", w.writes)
	}
}

type countingWriter struct {
	header       http.Header
	status       int
	writes, rows int
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(s int)   { w.status = s }
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.writes++
	w.rows += strings.Count(string(p), "\n")
	return len(p), nil
}

// seedMembers makes n learners with a certification each who granted tenant access, in a few
// statements.
func seedMembers(t *testing.T, env *apitest.Env, tenant string, n int) {
	t.Helper()
	day := env.Clock.Now().Format("2006-01-02")
	for _, q := range []string{
		`INSERT INTO accounts (issuer, subject, kind, created_at) SELECT 'seed', 'member-' || i, 'PERSONAL', $2::timestamptz FROM generate_series(1, $1::int) i`,
		`INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
SELECT a.id, 'Member ' || lpad(substr(a.subject, 8), 6, '0'), a.subject || '@example.com', $2::timestamptz
FROM accounts a WHERE a.issuer = 'seed' AND $1::int > 0`,
		`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, $2::date - 100, $2::date + 265 - (p.mcid % 200)::int, $2::timestamptz
FROM certification_profiles p JOIN accounts a ON a.id = p.account_id AND a.issuer = 'seed',
     (SELECT id FROM certifications WHERE code = 'azure-developer-associate') c WHERE $1::int > 0`,
		`INSERT INTO team_access_grants (certification_profile_id, tenant_id, granted_by, granted_at)
SELECT p.id, '` + tenant + `', 'seed', $2::timestamptz FROM certification_profiles p JOIN accounts a ON a.id = p.account_id AND a.issuer = 'seed'
WHERE $1::int > 0`,
	} {
		if _, err := env.DB.Exec(q, n, day); err != nil {
			t.Fatalf("seed members: %v\n%s", err, q)
		}
	}
}

func TestTeamPageStatementsDoNotGrowWithMembers(t *testing.T) {
	counts := map[string]int64{}
	for _, n := range []int{1, 1000} {
		env := apitest.New(t, apitest.WithStatementCounting())
		seedMembers(t, env, tenant1, n)
		m1 := apitest.TeamManager("manager-1", tenant1)
		members(t, env, m1, 50, "", nil) // warm: the account exists, statements are prepared
		for _, within := range []*int{nil, days(365)} {
			before := env.Statements()
			pg, _ := members(t, env, m1, 50, "", within)
			if len(pg.Members) != min(n, 50) {
				t.Fatalf("%d members: page of %d", n, len(pg.Members))
			}
			counts[fmt.Sprintf("%d members, filter %v", n, within != nil)] = env.Statements() - before
		}
	}
	t.Logf("statements per team page: %v", counts)
	for k, c := range counts {
		if c != counts["1 members, filter false"] || c > 6 {
			t.Fatalf("statements per page: %v (%s differs); want all equal and at most 6", counts, k)
		}
	}
}
