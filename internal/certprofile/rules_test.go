package certprofile

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
)

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return string(apperr.CodeOf(err))
}

func TestCheckCallerRefusesAnonymousAndWorkAccounts(t *testing.T) {
	cases := []struct {
		name string
		p    *auth.Principal
		want string
	}{
		{"anonymous is unauthenticated", nil, "UNAUTHENTICATED"},
		{"work or school account cannot connect its Learn profile", &auth.Principal{Kind: auth.KindWorkOrSchool}, "PERSONAL_ACCOUNT_REQUIRED"},
		{"work or school support agent is refused too", &auth.Principal{Kind: auth.KindWorkOrSchool, Roles: []string{auth.RoleSupport}}, "PERSONAL_ACCOUNT_REQUIRED"},
		{"personal account passes", &auth.Principal{Kind: auth.KindPersonal, AccountID: uuid.New()}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := codeOf(checkCaller(c.p)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestActAsOwnerHidesOtherPeoplesProfilesAndForbidsSupport(t *testing.T) {
	owner, other := uuid.New(), uuid.New()
	prof := &Profile{ID: uuid.New(), AccountID: owner, Status: StatusActive}
	cases := []struct {
		name string
		p    *auth.Principal
		prof *Profile
		want string
	}{
		{"missing profile is not found", &auth.Principal{Kind: auth.KindPersonal, AccountID: owner}, nil, "NOT_FOUND"},
		{"someone else's profile is not found, never a mismatch hint", &auth.Principal{Kind: auth.KindPersonal, AccountID: other}, prof, "NOT_FOUND"},
		{"support (personal account) sees it but may not act as its owner", &auth.Principal{Kind: auth.KindPersonal, AccountID: other, Roles: []string{auth.RoleSupport}}, prof, "FORBIDDEN"},
		{"support (work account) sees it but may not act as its owner", &auth.Principal{Kind: auth.KindWorkOrSchool, AccountID: other, Roles: []string{auth.RoleSupport}}, prof, "FORBIDDEN"},
		{"support on its own profile passes", &auth.Principal{Kind: auth.KindPersonal, AccountID: owner, Roles: []string{auth.RoleSupport}}, prof, ""},
		{"owner passes", &auth.Principal{Kind: auth.KindPersonal, AccountID: owner}, prof, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := codeOf(ActAsOwner(c.p, c.prof)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestCheckLinkAppliesTheConnectionRules(t *testing.T) {
	acct := uuid.New()
	lp, otherLP := uuid.New(), uuid.New()
	p1 := Profile{ID: uuid.New(), AccountID: acct, Status: StatusActive}
	p2 := Profile{ID: uuid.New(), AccountID: acct, Status: StatusActive}
	merged := Profile{ID: uuid.New(), AccountID: acct, Status: StatusMerged, MergedInto: &p1.ID}
	at := time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)
	link := func(l uuid.UUID, p Profile) *Link {
		return &Link{LearnProfileID: l, CertificationProfileID: p.ID, LinkedAt: at}
	}
	cases := []struct {
		name      string
		prof      Profile
		owned     []Profile
		byProfile *Link
		byLearn   *Link
		want      string
		already   bool
	}{
		{"one active profile, nothing linked: links", p1, []Profile{p1}, nil, nil, "", false},
		{"a merged sibling does not count as a second profile", p1, []Profile{p1, merged}, nil, nil, "", false},
		{"the merged profile itself cannot be linked", merged, []Profile{p1, merged}, nil, nil, "PROFILE_ALREADY_MERGED", false},
		{"two active profiles: contact support to merge", p1, []Profile{p1, p2}, nil, nil, "MULTIPLE_CERTIFICATION_PROFILES", false},
		{"same pair again is an idempotent success", p1, []Profile{p1}, link(lp, p1), link(lp, p1), "", true},
		{"same pair again even after a second profile appeared", p1, []Profile{p1, p2}, link(lp, p1), link(lp, p1), "", true},
		{"profile connected to another Learn profile", p1, []Profile{p1}, link(otherLP, p1), nil, "CERTIFICATION_PROFILE_ALREADY_LINKED", false},
		{"Learn profile connected to another certification profile", p2, []Profile{p2, merged}, nil, link(lp, p1), "LEARN_PROFILE_ALREADY_LINKED", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			already, err := checkLink(c.prof, c.owned, lp, c.byProfile, c.byLearn)
			if got := codeOf(err); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if already != c.already {
				t.Errorf("got already=%v, want %v", already, c.already)
			}
		})
	}
}

func TestMultipleProfilesMessageSendsTheLearnerToSupport(t *testing.T) {
	acct := uuid.New()
	p1 := Profile{ID: uuid.New(), AccountID: acct, Status: StatusActive}
	p2 := Profile{ID: uuid.New(), AccountID: acct, Status: StatusActive}
	_, err := checkLink(p1, []Profile{p1, p2}, uuid.New(), nil, nil)
	if msg := err.Error(); !strings.Contains(msg, "contact support") || !strings.Contains(msg, "merge") {
		t.Errorf("got message %q, want it to tell the learner to contact support to merge", msg)
	}
}

func TestParseQueryChoosesTheModeFromTheShape(t *testing.T) {
	cases := []struct {
		name, in string
		mode     Mode
		mcid     int64
		text     string
		want     string
	}{
		{"digits are an MCID", " 990000001 ", ByMCID, 990000001, "", ""},
		{"an @ makes an email", "Alice@Example.com", ByEmail, 0, "Alice@Example.com", ""},
		{"anything else is part of a name", "  José ", ByName, 0, "José", ""},
		{"three characters are enough for a name", "abc", ByName, 0, "abc", ""},
		{"empty is refused", "   ", 0, 0, "", "BAD_USER_INPUT"},
		{"the length of a name is checked once folded, by Search", "ab", ByName, 0, "ab", ""},
		{"too long is refused", strings.Repeat("a", MaxQuery+1), 0, 0, "", "BAD_USER_INPUT"},
		{"control characters are refused", "ab\x00c", 0, 0, "", "BAD_USER_INPUT"},
		{"an email with spaces is refused", "a b@example.com", 0, 0, "", "BAD_USER_INPUT"},
		{"an MCID too long for a number is refused", strings.Repeat("9", 19), 0, 0, "", "BAD_USER_INPUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := ParseQuery(c.in)
			if got := codeOf(err); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if err != nil {
				return
			}
			if q.Mode != c.mode || q.MCID != c.mcid || q.Text != c.text {
				t.Errorf("got %+v, want mode %d mcid %d text %q", q, c.mode, c.mcid, c.text)
			}
		})
	}
}

func TestValidateNewProfile(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		name string
		in   NewProfile
		want string
		lang string
	}{
		{"plain profile", NewProfile{LegalName: " Ada Lovelace ", Email: "ada@example.com"}, "", ""},
		{"language is canonicalized", NewProfile{LegalName: "Ada", Email: "ada@example.com", PreferredLanguage: str("zh-hans")}, "", "zh-Hans"},
		{"empty language means none", NewProfile{LegalName: "Ada", Email: "ada@example.com", PreferredLanguage: str(" ")}, "", ""},
		{"empty name", NewProfile{LegalName: "  ", Email: "ada@example.com"}, "BAD_USER_INPUT", ""},
		{"name over 200 characters", NewProfile{LegalName: strings.Repeat("é", 201), Email: "ada@example.com"}, "BAD_USER_INPUT", ""},
		{"name of 200 accented characters", NewProfile{LegalName: strings.Repeat("é", 200), Email: "ada@example.com"}, "", ""},
		{"name with a NUL", NewProfile{LegalName: "Ada\x00", Email: "ada@example.com"}, "BAD_USER_INPUT", ""},
		{"email without @", NewProfile{LegalName: "Ada", Email: "ada.example.com"}, "BAD_USER_INPUT", ""},
		{"email with a display name", NewProfile{LegalName: "Ada", Email: "Ada <ada@example.com>"}, "BAD_USER_INPUT", ""},
		{"email with a quoted space", NewProfile{LegalName: "Ada", Email: `"a b"@example.com`}, "BAD_USER_INPUT", ""},
		{"email with two @", NewProfile{LegalName: "Ada", Email: "a@b@example.com"}, "BAD_USER_INPUT", ""},
		{"unknown language", NewProfile{LegalName: "Ada", Email: "ada@example.com", PreferredLanguage: str("english")}, "BAD_USER_INPUT", ""},
		{"undetermined language", NewProfile{LegalName: "Ada", Email: "ada@example.com", PreferredLanguage: str("und")}, "BAD_USER_INPUT", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := validate(c.in)
			if got := codeOf(err); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if err != nil {
				return
			}
			got := ""
			if p.PreferredLanguage != nil {
				got = *p.PreferredLanguage
			}
			if got != c.lang {
				t.Errorf("got language %q, want %q", got, c.lang)
			}
			if p.LegalName != strings.TrimSpace(c.in.LegalName) {
				t.Errorf("got name %q, want it trimmed", p.LegalName)
			}
		})
	}
}
