package certprofile_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const profileFields = `id mcid legalName email alternateEmails preferredLanguage status
  mergedInto { id mcid } learnProfile { id linkedAt }`

const createMutation = `mutation($in: CreateCertificationProfileInput!) {
  createCertificationProfile(input: $in) { certificationProfile { ` + profileFields + ` } } }`

const linkMutation = `mutation($id: ID!) { linkCertificationProfile(input: {certificationProfileId: $id}) {
  learnProfile { id linkedAt certificationProfile { id mcid } }
  certificationProfile { ` + profileFields + ` } } }`

const unlinkMutation = `mutation($id: ID!) { unlinkCertificationProfile(input: {certificationProfileId: $id}) {
  learnProfile { id linkedAt certificationProfile { id } }
  certificationProfile { ` + profileFields + ` } } }`

const byMCIDQuery = `query($mcid: String!) { certificationProfile(mcid: $mcid) { ` + profileFields + ` } }`

type learnOut struct {
	ID       string
	LinkedAt *time.Time
}

type profileOut struct {
	ID                string
	MCID              string
	LegalName         string
	Email             string
	AlternateEmails   []string
	PreferredLanguage *string
	Status            string
	MergedInto        *struct{ ID, MCID string }
	LearnProfile      *learnOut
}

type linkOut struct {
	LearnProfile struct {
		ID                   string
		LinkedAt             *time.Time
		CertificationProfile *struct{ ID, MCID string }
	}
	CertificationProfile profileOut
}

// personalSupport is a support agent signed in with a personal account (most agents use a
// work account; see apitest.Support).
func personalSupport(sub string) apitest.Identity {
	id := apitest.Learner(sub)
	id.Roles = []string{"support"}
	return id
}

func create(t *testing.T, env *apitest.Env, who apitest.Identity, name, email string) profileOut {
	t.Helper()
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile profileOut }
	}
	env.MustDo(who, createMutation, map[string]any{"in": map[string]any{"legalName": name, "email": email}}, &out)
	return out.CreateCertificationProfile.CertificationProfile
}

func link(t *testing.T, env *apitest.Env, who apitest.Identity, profileID string) linkOut {
	t.Helper()
	var out struct{ LinkCertificationProfile linkOut }
	env.MustDo(who, linkMutation, map[string]any{"id": profileID}, &out)
	return out.LinkCertificationProfile
}

func byMCID(t *testing.T, env *apitest.Env, who apitest.Identity, mcid string) *profileOut {
	t.Helper()
	var out struct{ CertificationProfile *profileOut }
	env.MustDo(who, byMCIDQuery, map[string]any{"mcid": mcid}, &out)
	return out.CertificationProfile
}

func viewerLearnProfileID(t *testing.T, env *apitest.Env, who apitest.Identity) string {
	t.Helper()
	var out struct {
		Viewer struct{ LearnProfile struct{ ID string } }
	}
	env.MustDo(who, `{ viewer { learnProfile { id } } }`, nil, &out)
	return out.Viewer.LearnProfile.ID
}

// profileUUID returns the database id of the profile holding mcid.
func profileUUID(t *testing.T, env *apitest.Env, mcid string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := env.DB.Get(&id, `SELECT id FROM certification_profiles WHERE mcid = $1`, mcid); err != nil {
		t.Fatalf("profile %s: %v", mcid, err)
	}
	return id
}

// accountOf returns the account and Learn profile ids of a subject (after its first request).
func accountOf(t *testing.T, env *apitest.Env, sub string) (account, learnProfile uuid.UUID) {
	t.Helper()
	row := env.DB.QueryRow(`SELECT a.id, l.id FROM accounts a JOIN learn_profiles l ON l.account_id = a.id WHERE a.subject = $1`, sub)
	if err := row.Scan(&account, &learnProfile); err != nil {
		t.Fatalf("account %s: %v", sub, err)
	}
	return account, learnProfile
}

// markMerged turns dup into a duplicate merged into survivor, as a merge leaves it.
func markMerged(t *testing.T, env *apitest.Env, dup, survivor uuid.UUID) {
	t.Helper()
	if _, err := env.DB.Exec(`UPDATE certification_profiles SET status = 'MERGED', merged_into = $2, merged_at = $3 WHERE id = $1`,
		dup, survivor, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

// missingProfileID is a well-formed CertificationProfile id of no profile (ids are base64url
// of "Kind:uuid", graph/ids.go).
func missingProfileID() string {
	return base64.RawURLEncoding.EncodeToString([]byte("CertificationProfile:" + uuid.NewString()))
}

// fails runs an operation that must fail with code, reporting on t (env.MustFail reports on
// the test that built env, which a subtest must not fail).
func fails(t *testing.T, env *apitest.Env, who apitest.Identity, query string, vars map[string]any, code string) apitest.Error {
	t.Helper()
	r := env.Do(who, query, vars)
	if len(r.Errors) == 0 {
		t.Fatalf("got no error, want %s\n%s", code, r.Raw)
	}
	if got := r.Errors[0].Code(); got != code {
		t.Fatalf("got code %s, want %s\n%s", got, code, r.Raw)
	}
	return r.Errors[0]
}

func count(t *testing.T, env *apitest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := env.DB.Get(&n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// ---- creating profiles ----

func TestCreateProfileHandsOutUniqueNumericMCIDs(t *testing.T) {
	env := apitest.New(t)
	lang := "ja"
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile profileOut }
	}
	env.MustDo(apitest.Learner("alice"), createMutation, map[string]any{"in": map[string]any{
		"legalName": "  Alice Example ", "email": "alice@example.com", "preferredLanguage": lang}}, &out)
	a := out.CreateCertificationProfile.CertificationProfile
	if a.LegalName != "Alice Example" || a.Email != "alice@example.com" || a.PreferredLanguage == nil || *a.PreferredLanguage != "ja" ||
		a.Status != "ACTIVE" || len(a.AlternateEmails) != 0 || a.AlternateEmails == nil || a.MergedInto != nil || a.LearnProfile != nil {
		t.Fatalf("got %+v, want the trimmed input, ACTIVE, no alternates, no merge, no link", a)
	}
	b := create(t, env, apitest.Learner("bob"), "Bob", "bob@example.com")
	a2 := create(t, env, apitest.Learner("alice"), "Alice Again", "alice2@example.com")
	seen := map[string]bool{}
	for _, p := range []profileOut{a, b, a2} {
		if !regexp.MustCompile(`^[0-9]+$`).MatchString(p.MCID) {
			t.Errorf("got MCID %q, want digits only", p.MCID)
		}
		if seen[p.MCID] {
			t.Errorf("got MCID %s twice, want each unique", p.MCID)
		}
		seen[p.MCID] = true
	}
}

func TestCreateProfileNeedsAPersonalAccount(t *testing.T) {
	env := apitest.New(t)
	in := map[string]any{"in": map[string]any{"legalName": "Wendy Work", "email": "wendy@contoso.example"}}
	env.MustFail(apitest.Work("wendy"), createMutation, in, "PERSONAL_ACCOUNT_REQUIRED")
	env.MustFail(apitest.Support("agent"), createMutation, in, "PERSONAL_ACCOUNT_REQUIRED")
	env.MustFail(apitest.Anonymous, createMutation, in, "UNAUTHENTICATED")
	if n := count(t, env, `SELECT count(*) FROM certification_profiles`); n != 0 {
		t.Fatalf("got %d profiles, want 0", n)
	}
}

func TestCreateProfileValidatesInput(t *testing.T) {
	env := apitest.New(t)
	cases := map[string]map[string]any{
		"empty name":           {"legalName": " ", "email": "a@example.com"},
		"name too long":        {"legalName": strings.Repeat("x", 201), "email": "a@example.com"},
		"NUL in name":          {"legalName": "A\u0000B", "email": "a@example.com"},
		"email without @":      {"legalName": "A", "email": "a.example.com"},
		"email with a name":    {"legalName": "A", "email": "A <a@example.com>"},
		"email with two @":     {"legalName": "A", "email": "a@b@example.com"},
		"email with a space":   {"legalName": "A", "email": "a b@example.com"},
		"language not a tag":   {"legalName": "A", "email": "a@example.com", "preferredLanguage": "english"},
		"missing email":        {"legalName": "A"},
		"language of bad type": {"legalName": "A", "email": "a@example.com", "preferredLanguage": []string{"en"}},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			e := fails(t, env, apitest.Learner("val"), createMutation, map[string]any{"in": in}, "BAD_USER_INPUT")
			if strings.Contains(e.Message, "certification_profiles") || strings.Contains(e.Message, "pq:") {
				t.Errorf("got message %q, want no internal names", e.Message)
			}
		})
	}
	if n := count(t, env, `SELECT count(*) FROM certification_profiles`); n != 0 {
		t.Fatalf("got %d profiles, want 0", n)
	}
}

// ---- reading profiles ----

func TestViewerListsOnlyTheirOwnProfiles(t *testing.T) {
	env := apitest.New(t)
	a1 := create(t, env, apitest.Learner("alice"), "Alice One", "a1@example.com")
	a2 := create(t, env, apitest.Learner("alice"), "Alice Two", "a2@example.com")
	create(t, env, apitest.Learner("bob"), "Bob", "bob@example.com")
	var out struct {
		Viewer struct{ CertificationProfiles []profileOut }
	}
	env.MustDo(apitest.Learner("alice"), `{ viewer { certificationProfiles { `+profileFields+` } } }`, nil, &out)
	got := out.Viewer.CertificationProfiles
	if len(got) != 2 || got[0].MCID != a1.MCID || got[1].MCID != a2.MCID {
		t.Fatalf("got %+v, want alice's two profiles oldest first", got)
	}
	env.MustDo(apitest.Work("wendy"), `{ viewer { certificationProfiles { id } } }`, nil, &out)
	if len(out.Viewer.CertificationProfiles) != 0 {
		t.Fatalf("got %+v for a work account, want none", out.Viewer.CertificationProfiles)
	}
}

func TestProfileByMCIDIsForTheOwnerOrSupportOnly(t *testing.T) {
	env := apitest.New(t)
	a := create(t, env, apitest.Learner("alice"), "Alice", "alice@example.com")
	if got := byMCID(t, env, apitest.Learner("alice"), a.MCID); got == nil || got.ID != a.ID {
		t.Fatalf("owner got %+v, want the profile", got)
	}
	if got := byMCID(t, env, apitest.Support("agent"), a.MCID); got == nil || got.ID != a.ID || got.Email != "alice@example.com" {
		t.Fatalf("support got %+v, want the profile", got)
	}
	// Someone else's MCID and an MCID nobody holds look exactly the same.
	other := env.Do(apitest.Learner("mallory"), byMCIDQuery, map[string]any{"mcid": a.MCID})
	nobody := env.Do(apitest.Learner("mallory"), byMCIDQuery, map[string]any{"mcid": "123456789"})
	if string(other.Data) != `{"certificationProfile":null}` || len(other.Errors) != 0 || string(other.Raw) != string(nobody.Raw) {
		t.Fatalf("got %s for another's MCID and %s for a free one, want the same null", other.Raw, nobody.Raw)
	}
	// node(id) hides it the same way.
	var n struct{ Node *struct{ ID string } }
	env.MustDo(apitest.Learner("mallory"), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": a.ID}, &n)
	if n.Node != nil {
		t.Fatalf("got node %+v for another's profile, want null", n.Node)
	}
	env.MustFail(apitest.Anonymous, byMCIDQuery, map[string]any{"mcid": a.MCID}, "UNAUTHENTICATED")
	env.MustFail(apitest.Learner("alice"), byMCIDQuery, map[string]any{"mcid": "12ab"}, "BAD_USER_INPUT")
}

func TestMergedMCIDResolvesToItsSurvivor(t *testing.T) {
	env := apitest.New(t)
	survivor := create(t, env, apitest.Learner("alice"), "Alice", "alice@example.com")
	dup := create(t, env, apitest.Learner("alice"), "Alice Dup", "alice.old@example.com")
	sid, did := profileUUID(t, env, survivor.MCID), profileUUID(t, env, dup.MCID)
	markMerged(t, env, did, sid)
	if _, err := env.DB.Exec(`INSERT INTO profile_alternate_emails (profile_id, email, from_profile_id, added_at)
VALUES ($1, 'alice.old@example.com', $2, $3)`, sid, did, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	for _, who := range []apitest.Identity{apitest.Learner("alice"), apitest.Support("agent")} {
		got := byMCID(t, env, who, dup.MCID)
		if got == nil || got.ID != survivor.ID || got.MCID != survivor.MCID || got.Status != "ACTIVE" {
			t.Fatalf("%s: got %+v for the merged MCID, want the survivor %s", who.Subject, got, survivor.MCID)
		}
		if len(got.AlternateEmails) != 1 || got.AlternateEmails[0] != "alice.old@example.com" {
			t.Fatalf("got alternate emails %v, want the duplicate's address", got.AlternateEmails)
		}
	}
	// The duplicate itself, by id, shows where it went.
	var n struct{ Node *profileOut }
	env.MustDo(apitest.Learner("alice"), `query($id: ID!) { node(id: $id) { ... on CertificationProfile { `+profileFields+` } } }`,
		map[string]any{"id": dup.ID}, &n)
	if n.Node == nil || n.Node.Status != "MERGED" || n.Node.MergedInto == nil || n.Node.MergedInto.MCID != survivor.MCID {
		t.Fatalf("got %+v, want the duplicate MERGED into %s", n.Node, survivor.MCID)
	}
	// A stranger learns nothing from the merged MCID either.
	if got := byMCID(t, env, apitest.Learner("mallory"), dup.MCID); got != nil {
		t.Fatalf("stranger got %+v, want null", got)
	}
}

func TestMergedIntoIsHiddenWhenTheSurvivorIsSomeoneElses(t *testing.T) {
	env := apitest.New(t)
	survivor := create(t, env, apitest.Learner("bob"), "Bob", "bob@example.com")
	dup := create(t, env, apitest.Learner("alice"), "Alice", "alice@example.com")
	markMerged(t, env, profileUUID(t, env, dup.MCID), profileUUID(t, env, survivor.MCID))
	var n struct{ Node *profileOut }
	q := `query($id: ID!) { node(id: $id) { ... on CertificationProfile { ` + profileFields + ` } } }`
	env.MustDo(apitest.Learner("alice"), q, map[string]any{"id": dup.ID}, &n)
	if n.Node == nil || n.Node.Status != "MERGED" || n.Node.MergedInto != nil {
		t.Fatalf("got %+v, want alice's merged profile without bob's survivor", n.Node)
	}
	env.MustDo(apitest.Support("agent"), q, map[string]any{"id": dup.ID}, &n)
	if n.Node == nil || n.Node.MergedInto == nil || n.Node.MergedInto.MCID != survivor.MCID {
		t.Fatalf("support got %+v, want the survivor", n.Node)
	}
}

// ---- connecting profiles ----

func TestLinkConnectsBothSidesAndIsAudited(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p := create(t, env, alice, "Alice", "alice@example.com")
	lpID := viewerLearnProfileID(t, env, alice)
	now := env.Clock.Now()

	got := link(t, env, alice, p.ID)
	if got.LearnProfile.ID != lpID || got.LearnProfile.CertificationProfile == nil || got.LearnProfile.CertificationProfile.ID != p.ID {
		t.Fatalf("got learn profile %+v, want alice's, connected to %s", got.LearnProfile, p.ID)
	}
	if got.LearnProfile.LinkedAt == nil || !got.LearnProfile.LinkedAt.Equal(now) {
		t.Fatalf("got linkedAt %v, want %v (the clock)", got.LearnProfile.LinkedAt, now)
	}
	if lp := got.CertificationProfile.LearnProfile; lp == nil || lp.ID != lpID {
		t.Fatalf("got certificationProfile.learnProfile %+v, want %s", lp, lpID)
	}

	// Both sides read back the link in a later request.
	var v struct {
		Viewer struct {
			LearnProfile struct {
				LinkedAt             *time.Time
				CertificationProfile *struct{ MCID string }
			}
		}
	}
	env.MustDo(alice, `{ viewer { learnProfile { linkedAt certificationProfile { mcid } } } }`, nil, &v)
	if v.Viewer.LearnProfile.CertificationProfile == nil || v.Viewer.LearnProfile.CertificationProfile.MCID != p.MCID {
		t.Fatalf("got %+v, want the viewer's Learn profile connected to %s", v.Viewer.LearnProfile, p.MCID)
	}
	// Support sees the Learn profile of the certification profile too; a stranger sees nothing.
	if got := byMCID(t, env, apitest.Support("agent"), p.MCID); got.LearnProfile == nil || got.LearnProfile.ID != lpID {
		t.Fatalf("support got %+v, want the connected Learn profile", got.LearnProfile)
	}

	var audits []struct {
		Action, Actor string
		Details       []byte
	}
	if err := env.DB.Select(&audits, `SELECT e.action, e.actor, e.details FROM audit_events e
JOIN audit_event_profiles ap ON ap.event_id = e.id WHERE ap.profile_id = $1`, profileUUID(t, env, p.MCID)); err != nil {
		t.Fatal(err)
	}
	if len(audits) != 1 || audits[0].Action != "profile.link" || audits[0].Actor != apitest.Issuer+"|alice" {
		t.Fatalf("got audit events %+v, want one profile.link by alice", audits)
	}
	var details map[string]string
	if err := json.Unmarshal(audits[0].Details, &details); err != nil || details["learnProfileId"] == "" || details["certificationProfileId"] == "" {
		t.Fatalf("got details %s, want both sides", audits[0].Details)
	}
}

func TestLinkingTheSamePairAgainIsIdempotent(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p := create(t, env, alice, "Alice", "alice@example.com")
	first := link(t, env, alice, p.ID)
	env.Clock.Advance(time.Hour)
	second := link(t, env, alice, p.ID)
	if !second.LearnProfile.LinkedAt.Equal(*first.LearnProfile.LinkedAt) {
		t.Fatalf("got linkedAt %v after relinking, want the first %v", second.LearnProfile.LinkedAt, first.LearnProfile.LinkedAt)
	}
	// Still idempotent once a second profile exists (the pair is what was asked for).
	create(t, env, alice, "Alice Two", "alice2@example.com")
	link(t, env, alice, p.ID)
	if n := count(t, env, `SELECT count(*) FROM profile_links`); n != 1 {
		t.Fatalf("got %d links, want 1", n)
	}
	if n := count(t, env, `SELECT count(*) FROM audit_events WHERE action = 'profile.link'`); n != 1 {
		t.Fatalf("got %d link audit events, want 1 (repeats change nothing)", n)
	}
}

func TestLinkRefusals(t *testing.T) {
	env := apitest.New(t)
	alice, bob := apitest.Learner("alice"), apitest.Learner("bob")
	pa := create(t, env, alice, "Alice", "alice@example.com")
	pb := create(t, env, bob, "Bob", "bob@example.com")
	vars := func(id string) map[string]any { return map[string]any{"id": id} }

	t.Run("anonymous", func(t *testing.T) {
		fails(t, env, apitest.Anonymous, linkMutation, vars(pa.ID), "UNAUTHENTICATED")
	})
	t.Run("malformed id", func(t *testing.T) {
		fails(t, env, alice, linkMutation, vars("not-an-id"), "BAD_USER_INPUT")
	})
	t.Run("no such profile", func(t *testing.T) {
		fails(t, env, alice, linkMutation, vars(missingProfileID()), "NOT_FOUND")
	})
	t.Run("someone else's profile is not found, exactly like a missing one", func(t *testing.T) {
		other := fails(t, env, alice, linkMutation, vars(pb.ID), "NOT_FOUND")
		missing := fails(t, env, alice, linkMutation, vars(missingProfileID()), "NOT_FOUND")
		if other.Message != missing.Message {
			t.Fatalf("got %q and %q, want the same message", other.Message, missing.Message)
		}
	})
	t.Run("work or school account, whatever the profile", func(t *testing.T) {
		fails(t, env, apitest.Work("wendy"), linkMutation, vars(pa.ID), "PERSONAL_ACCOUNT_REQUIRED")
		fails(t, env, apitest.Work("wendy"), linkMutation, vars(missingProfileID()), "PERSONAL_ACCOUNT_REQUIRED")
	})
	t.Run("support, to a learner's profile, whatever its account kind", func(t *testing.T) {
		fails(t, env, apitest.Support("agent"), linkMutation, vars(pa.ID), "FORBIDDEN")
		fails(t, env, personalSupport("agent-p"), linkMutation, vars(pa.ID), "FORBIDDEN")
	})
	if n := count(t, env, `SELECT count(*) FROM profile_links`); n != 0 {
		t.Fatalf("got %d links after refusals, want 0", n)
	}
}

func TestLinkRefusesAnAccountWithSeveralActiveProfiles(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p1 := create(t, env, alice, "Alice", "alice@example.com")
	p2 := create(t, env, alice, "Alice Dup", "alice2@example.com")
	e := env.MustFail(alice, linkMutation, map[string]any{"id": p1.ID}, "MULTIPLE_CERTIFICATION_PROFILES")
	if !strings.Contains(e.Message, "contact support") || !strings.Contains(e.Message, "merge") {
		t.Fatalf("got message %q, want it to tell the learner to contact support to merge", e.Message)
	}
	env.MustFail(alice, linkMutation, map[string]any{"id": p2.ID}, "MULTIPLE_CERTIFICATION_PROFILES")

	// Once support merged them, the survivor links and the duplicate cannot.
	markMerged(t, env, profileUUID(t, env, p2.MCID), profileUUID(t, env, p1.MCID))
	env.MustFail(alice, linkMutation, map[string]any{"id": p2.ID}, "PROFILE_ALREADY_MERGED")
	if got := link(t, env, alice, p1.ID); got.CertificationProfile.ID != p1.ID {
		t.Fatalf("got %+v, want the survivor linked", got)
	}
}

// TestAConnectionAcrossAccountsCannotExist: a profile connected to another account's Learn
// profile used to be reachable through a merge, and the link rules then had to cope with it
// (CERTIFICATION_PROFILE_ALREADY_LINKED for its owner, LEARN_PROFILE_ALREADY_LINKED for the
// other). The database now refuses that state outright, whichever account the row names, so
// each person can always connect their own profile.
func TestAConnectionAcrossAccountsCannotExist(t *testing.T) {
	env := apitest.New(t)
	alice, bob := apitest.Learner("alice"), apitest.Learner("bob")
	pa := create(t, env, alice, "Alice", "alice@example.com")
	pb := create(t, env, bob, "Bob", "bob@example.com")
	aliceAccount, _ := accountOf(t, env, "alice")
	bobAccount, bobLP := accountOf(t, env, "bob")
	for _, acc := range []uuid.UUID{aliceAccount, bobAccount} {
		_, err := env.DB.Exec(`INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
VALUES ($1, $2, $3, $4)`, bobLP, profileUUID(t, env, pa.MCID), acc, env.Clock.Now())
		if name := pgtest.ConstraintName(err); !strings.HasPrefix(name, "profile_links_") || !strings.HasSuffix(name, "_account_fkey") {
			t.Fatalf("linking alice's profile to bob's Learn profile (row naming account %s): got %v, want an account foreign key violation", acc, err)
		}
	}
	if got := link(t, env, alice, pa.ID); got.CertificationProfile.ID != pa.ID {
		t.Fatalf("got %+v, want alice's profile connected", got)
	}
	if got := link(t, env, bob, pb.ID); got.CertificationProfile.ID != pb.ID {
		t.Fatalf("got %+v, want bob's profile connected", got)
	}
}

func TestUnlinkDisconnectsAndIsANoOpWhenNotConnected(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p := create(t, env, alice, "Alice", "alice@example.com")
	lpID := viewerLearnProfileID(t, env, alice)
	vars := map[string]any{"id": p.ID}

	// Not connected yet: success, nothing changes, the owner's Learn profile comes back.
	var out struct {
		UnlinkCertificationProfile struct {
			LearnProfile struct {
				ID                   string
				LinkedAt             *time.Time
				CertificationProfile *struct{ ID string }
			}
			CertificationProfile profileOut
		}
	}
	env.MustDo(alice, unlinkMutation, vars, &out)
	if got := out.UnlinkCertificationProfile; got.LearnProfile.ID != lpID || got.CertificationProfile.LearnProfile != nil {
		t.Fatalf("got %+v, want alice's unconnected Learn profile", got)
	}

	link(t, env, alice, p.ID)
	env.Clock.Advance(time.Minute)
	env.MustDo(alice, unlinkMutation, vars, &out)
	got := out.UnlinkCertificationProfile
	if got.LearnProfile.ID != lpID || got.LearnProfile.LinkedAt != nil || got.LearnProfile.CertificationProfile != nil ||
		got.CertificationProfile.LearnProfile != nil {
		t.Fatalf("got %+v, want both sides disconnected", got)
	}
	if n := count(t, env, `SELECT count(*) FROM profile_links`); n != 0 {
		t.Fatalf("got %d links, want 0", n)
	}
	env.MustDo(alice, unlinkMutation, vars, &out) // again: a no-op
	if n := count(t, env, `SELECT count(*) FROM audit_events a JOIN audit_event_profiles ap ON ap.event_id = a.id
WHERE a.action = 'profile.unlink' AND ap.profile_id = $1`, profileUUID(t, env, p.MCID)); n != 1 {
		t.Fatalf("got %d unlink audit events, want 1", n)
	}
	// Connecting again works after a disconnect.
	link(t, env, alice, p.ID)
}

// TestUnlinkIsForTheOwnerOnly: support sees the profile but may not disconnect it through the
// learner's mutation (it would silently block the learner's renewal): FORBIDDEN, with either
// kind of account, and the connection stays.
func TestUnlinkIsForTheOwnerOnly(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p := create(t, env, alice, "Alice", "alice@example.com")
	link(t, env, alice, p.ID)
	vars := map[string]any{"id": p.ID}
	env.MustFail(apitest.Anonymous, unlinkMutation, vars, "UNAUTHENTICATED")
	env.MustFail(apitest.Learner("mallory"), unlinkMutation, vars, "NOT_FOUND")
	env.MustFail(apitest.Learner("mallory"), unlinkMutation, map[string]any{"id": missingProfileID()}, "NOT_FOUND")
	if n := count(t, env, `SELECT count(*) FROM profile_links`); n != 1 {
		t.Fatalf("got %d links after refused unlinks, want 1", n)
	}
	env.MustFail(apitest.Support("agent"), unlinkMutation, vars, "FORBIDDEN")
	env.MustFail(personalSupport("agent-p"), unlinkMutation, vars, "FORBIDDEN")
	if n := count(t, env, `SELECT count(*) FROM profile_links`); n != 1 {
		t.Fatalf("got %d links after support's unlink, want 1 (untouched)", n)
	}
	if n := count(t, env, `SELECT count(*) FROM audit_events WHERE action = 'profile.unlink'`); n != 0 {
		t.Fatalf("got %d unlink events, want 0", n)
	}
	var out struct {
		UnlinkCertificationProfile struct{ LearnProfile struct{ ID string } }
	}
	env.MustDo(alice, unlinkMutation, vars, &out)
	if out.UnlinkCertificationProfile.LearnProfile.ID != viewerLearnProfileID(t, env, alice) {
		t.Fatalf("got %+v, want alice's Learn profile, the one disconnected", out)
	}
}

// ---- races ----

func TestConcurrentIdenticalLinksMakeOneLink(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p := create(t, env, alice, "Alice", "alice@example.com")
	const n = 10
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := env.Do(alice, linkMutation, map[string]any{"id": p.ID})
			if len(r.Errors) > 0 {
				codes[i] = r.Errors[0].Code()
			}
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != "" {
			t.Errorf("request %d: got %s, want success (the same pair is idempotent)", i, c)
		}
	}
	if got := count(t, env, `SELECT count(*) FROM profile_links`); got != 1 {
		t.Fatalf("got %d links, want 1", got)
	}
	if got := count(t, env, `SELECT count(*) FROM audit_events WHERE action = 'profile.link'`); got != 1 {
		t.Fatalf("got %d link audit events, want 1", got)
	}
}

func TestConcurrentCreateAndLinkNeverBypassTheOneProfileRule(t *testing.T) {
	env := apitest.New(t)
	for round := range 6 {
		who := apitest.Learner("racer-" + strconv.Itoa(round))
		p := create(t, env, who, "Racer", "racer@example.com")
		var linkCode, createCode string
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if r := env.Do(who, linkMutation, map[string]any{"id": p.ID}); len(r.Errors) > 0 {
				linkCode = r.Errors[0].Code()
			}
		}()
		go func() {
			defer wg.Done()
			r := env.Do(who, createMutation, map[string]any{"in": map[string]any{"legalName": "Racer Two", "email": "r2@example.com"}})
			if len(r.Errors) > 0 {
				createCode = r.Errors[0].Code()
			}
		}()
		wg.Wait()
		if createCode != "" {
			t.Fatalf("round %d: create got %s, want success", round, createCode)
		}
		if linkCode != "" && linkCode != "MULTIPLE_CERTIFICATION_PROFILES" {
			t.Fatalf("round %d: link got %s, want success or MULTIPLE_CERTIFICATION_PROFILES", round, linkCode)
		}
	}
}

// waitForLockWait returns once a session of the test database waits for a row lock, or fails
// the test after a generous deadline.
func waitForLockWait(t *testing.T, env *apitest.Env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if count(t, env, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling for a condition, not waiting for time to pass
	}
	t.Fatal("got no session waiting for a lock, want the request blocked on the account's profiles")
}

// holdAccountLock runs fn in a transaction that holds the lock Create and Link take on the
// account's profiles, and keeps it open until release is closed.
func holdAccountLock(t *testing.T, env *apitest.Env, account uuid.UUID, fn func(tx *sqlx.Tx) error) (held <-chan struct{}, release chan<- struct{}, done <-chan error) {
	t.Helper()
	h, r, d := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		tx, err := env.DB.BeginTxx(context.Background(), nil)
		if err != nil {
			d <- err
			close(h)
			return
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.Exec(`SELECT id FROM certification_profiles WHERE account_id = $1 ORDER BY id FOR UPDATE`, account); err != nil {
			d <- err
			close(h)
			return
		}
		if err := fn(tx); err != nil {
			d <- err
			close(h)
			return
		}
		close(h)
		<-r
		d <- tx.Commit()
	}()
	return h, r, d
}

func TestLinkSeesAProfileCreatedWhileItWaited(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p := create(t, env, alice, "Alice", "alice@example.com")
	account, _ := accountOf(t, env, "alice")

	// A creation of a second profile holds the account lock and has inserted, not committed.
	held, release, done := holdAccountLock(t, env, account, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO certification_profiles (account_id, legal_name, email, created_at) VALUES ($1, 'Alice Two', 'a2@example.com', $2)`,
			account, env.Clock.Now())
		return err
	})
	<-held
	result := make(chan string, 1)
	go func() {
		r := env.Do(alice, linkMutation, map[string]any{"id": p.ID})
		code := ""
		if len(r.Errors) > 0 {
			code = r.Errors[0].Code()
		}
		result <- code
	}()
	waitForLockWait(t, env)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := <-result; got != "MULTIPLE_CERTIFICATION_PROFILES" {
		t.Fatalf("got %q, want MULTIPLE_CERTIFICATION_PROFILES: the profile committed while link waited counts", got)
	}
	if n := count(t, env, `SELECT count(*) FROM profile_links`); n != 0 {
		t.Fatalf("got %d links, want 0", n)
	}
}

func TestCreateWaitsForALinkInProgress(t *testing.T) {
	env := apitest.New(t)
	alice := apitest.Learner("alice")
	p := create(t, env, alice, "Alice", "alice@example.com")
	account, lp := accountOf(t, env, "alice")
	pid := profileUUID(t, env, p.MCID)

	held, release, done := holdAccountLock(t, env, account, func(tx *sqlx.Tx) error {
		_, err := tx.Exec(`INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
SELECT $1, p.id, p.account_id, $3 FROM certification_profiles p WHERE p.id = $2`, lp, pid, env.Clock.Now())
		return err
	})
	<-held
	result := make(chan string, 1)
	go func() {
		r := env.Do(alice, createMutation, map[string]any{"in": map[string]any{"legalName": "Alice Two", "email": "a2@example.com"}})
		code := ""
		if len(r.Errors) > 0 {
			code = r.Errors[0].Code()
		}
		result <- code
	}()
	waitForLockWait(t, env)
	select {
	case code := <-result:
		t.Fatalf("create finished (%q) while the link held the account lock, want it to wait", code)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := <-result; got != "" {
		t.Fatalf("got %q, want the create to succeed after the link", got)
	}
}

// countingStore counts the batch reads behind the profile loaders.
type countingStore struct {
	certprofile.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
}

func (c *countingStore) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = map[string]int{}
	return got
}

func (c *countingStore) ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Profile, []error) {
	c.count("profiles")
	return c.Store.ProfilesByIDs(ctx, ids)
}

func (c *countingStore) AlternateEmailsByIDs(ctx context.Context, ids []uuid.UUID) ([][]string, error) {
	c.count("alternateEmails")
	return c.Store.AlternateEmailsByIDs(ctx, ids)
}

func (c *countingStore) LinksByProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Link, error) {
	c.count("linksByProfile")
	return c.Store.LinksByProfileIDs(ctx, ids)
}

func (c *countingStore) LinksByLearnProfileIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Link, error) {
	c.count("linksByLearnProfile")
	return c.Store.LinksByLearnProfileIDs(ctx, ids)
}

func TestProfileFieldsAreBatched(t *testing.T) {
	env := apitest.New(t)
	store := &countingStore{Store: postgres.CertProfile{Store: env.Server.Store}, calls: map[string]int{}}
	env.Server.Resolver.Profiles = certprofile.NewService(store, env.Clock)
	env.Server.Resolver.LoaderWait = 50 * time.Millisecond // a busy machine must not split a batch

	const q = `{ searchCertificationProfiles(query: "batch", first: 100) { nodes {
  alternateEmails mergedInto { id alternateEmails }
  learnProfile { id linkedAt certificationProfile { id alternateEmails } } } } }`
	var want map[string]int
	for _, n := range []int{1, 40} {
		have := count(t, env, `SELECT count(*) FROM certification_profiles WHERE legal_name LIKE 'Batch%'`)
		for i := have; i < n; i++ {
			who := apitest.Learner("batch-" + strconv.Itoa(i))
			p := create(t, env, who, "Batch "+strconv.Itoa(i), "b"+strconv.Itoa(i)+"@example.com")
			link(t, env, who, p.ID)
			if i%2 == 1 { // every other one is merged into the one before, with an alternate email
				prev := profileUUID(t, env, strconv.Itoa(mustAtoi(t, p.MCID)-1))
				id := profileUUID(t, env, p.MCID)
				if _, err := env.DB.Exec(`DELETE FROM profile_links WHERE certification_profile_id = $1`, id); err != nil {
					t.Fatal(err)
				}
				markMerged(t, env, id, prev)
				if _, err := env.DB.Exec(`INSERT INTO profile_alternate_emails (profile_id, email, added_at) VALUES ($1, $2, $3)`,
					prev, "alt"+strconv.Itoa(i)+"@example.com", env.Clock.Now()); err != nil {
					t.Fatal(err)
				}
			}
		}
		store.reset()
		var out struct {
			SearchCertificationProfiles struct{ Nodes []json.RawMessage }
		}
		env.MustDo(apitest.Support("agent"), q, nil, &out)
		if len(out.SearchCertificationProfiles.Nodes) != n {
			t.Fatalf("got %d profiles, want %d", len(out.SearchCertificationProfiles.Nodes), n)
		}
		got := store.reset()
		if n == 1 {
			want = got
			continue
		}
		// One batch per loader and nesting level at most; an N+1 would read once per profile.
		for name, c := range got {
			if c > 3 {
				t.Errorf("%s: got %d batch reads for %d profiles, want at most 3 (for 1 profile: %d)", name, c, n, want[name])
			}
		}
		t.Logf("batch reads for %d profiles: %v", n, got)
	}
	t.Logf("batch reads for 1 profile: %v", want)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
