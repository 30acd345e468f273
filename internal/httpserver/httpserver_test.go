package httpserver_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const viewerQuery = `{ viewer { account { id kind email displayName } learnProfile { id account { id } } } }`

// signed builds a token with the given claims and method, signed with key.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func baseClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": apitest.Issuer, "aud": apitest.Audience, "sub": "jwt-user",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"tid": auth.ConsumerTenantID,
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func post(env *apitest.Env, token, query string) apitest.Response {
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return env.Send(req)
}

func TestEveryJWTRefusalIsUnauthenticated(t *testing.T) {
	env := apitest.New(t)
	now := env.Clock.Now()
	secret := []byte(apitest.Secret)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, baseClaims(now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases := map[string]string{
		"expired":          signed(t, jwt.SigningMethodHS256, secret, with(baseClaims(now), "exp", now.Add(-time.Hour).Unix())),
		"missing exp":      signed(t, jwt.SigningMethodHS256, secret, with(baseClaims(now), "exp", nil)),
		"not yet valid":    signed(t, jwt.SigningMethodHS256, secret, with(baseClaims(now), "nbf", now.Add(time.Hour).Unix())),
		"wrong issuer":     signed(t, jwt.SigningMethodHS256, secret, with(baseClaims(now), "iss", "https://evil.example")),
		"wrong audience":   signed(t, jwt.SigningMethodHS256, secret, with(baseClaims(now), "aud", "someone-else")),
		"bad signature":    signed(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef0123"), baseClaims(now)),
		"alg none":         none,
		"RS256 not set up": signed(t, jwt.SigningMethodRS256, rsaKey, baseClaims(now)),
		"HS384 not set up": signed(t, jwt.SigningMethodHS384, secret, baseClaims(now)),
		"garbage":          "not.a.jwt",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := post(env, tok, viewerQuery)
			if r.Status != http.StatusUnauthorized || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
				t.Fatalf("got status %d %s, want 401 UNAUTHENTICATED", r.Status, r.Raw)
			}
			if strings.Contains(string(r.Raw), tok) {
				t.Fatalf("response echoes the token: %s", r.Raw)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		env.MustFail(apitest.Anonymous, viewerQuery, nil, "UNAUTHENTICATED")
	})
	t.Run("valid token", func(t *testing.T) {
		r := post(env, signed(t, jwt.SigningMethodHS256, secret, baseClaims(now)), viewerQuery)
		if r.Status != http.StatusOK || len(r.Errors) != 0 {
			t.Fatalf("got %d %s, want 200 without errors", r.Status, r.Raw)
		}
	})
	t.Run("moving the clock expires a token", func(t *testing.T) {
		tok := signed(t, jwt.SigningMethodHS256, secret, baseClaims(now))
		env.Clock.Advance(2 * time.Hour)
		defer env.Clock.Set(now)
		if r := post(env, tok, viewerQuery); r.Status != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401 after expiry", r.Status)
		}
	})
}

type viewerData struct {
	Viewer struct {
		Account struct {
			ID    string
			Kind  string
			Email *string
		}
		LearnProfile struct {
			ID      string
			Account struct{ ID string }
		}
	}
}

func TestAccountKindComesFromTenant(t *testing.T) {
	env := apitest.New(t)
	cases := []struct {
		id   apitest.Identity
		want string
	}{
		{apitest.Learner("personal-1"), "PERSONAL"},
		{apitest.Work("work-1"), "WORK_OR_SCHOOL"},
	}
	for _, c := range cases {
		var v viewerData
		env.MustDo(c.id, viewerQuery, nil, &v)
		if v.Viewer.Account.Kind != c.want {
			t.Errorf("%s: got kind %s, want %s", c.id.Subject, v.Viewer.Account.Kind, c.want)
		}
		if v.Viewer.LearnProfile.Account.ID != v.Viewer.Account.ID {
			t.Errorf("%s: learn profile belongs to %s, want %s", c.id.Subject, v.Viewer.LearnProfile.Account.ID, v.Viewer.Account.ID)
		}
	}
	// A token without tid is a work or school account.
	now := env.Clock.Now()
	r := post(env, signed(t, jwt.SigningMethodHS256, []byte(apitest.Secret), with(baseClaims(now), "tid", nil)), viewerQuery)
	var v viewerData
	if err := json.Unmarshal(r.Data, &v); err != nil || v.Viewer.Account.Kind != "WORK_OR_SCHOOL" {
		t.Fatalf("got %s, want WORK_OR_SCHOOL without tid", r.Raw)
	}
}

func TestConcurrentFirstRequestsCreateOneAccount(t *testing.T) {
	env := apitest.New(t)
	const n = 12
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var v viewerData
			env.MustDo(apitest.Learner("racer"), viewerQuery, nil, &v)
			ids[i] = v.Viewer.LearnProfile.ID
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("got learn profiles %v, want one", ids)
		}
	}
	var accounts, profiles int
	if err := env.DB.Get(&accounts, `SELECT count(*) FROM accounts WHERE subject = 'racer'`); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Get(&profiles, `SELECT count(*) FROM learn_profiles l JOIN accounts a ON a.id = l.account_id WHERE a.subject = 'racer'`); err != nil {
		t.Fatal(err)
	}
	if accounts != 1 || profiles != 1 {
		t.Fatalf("got %d accounts and %d learn profiles, want 1 and 1", accounts, profiles)
	}
}

type certNode struct {
	Code                 string
	Level                string
	Expires              bool
	ReleasedOn           string
	RenewalAvailableFrom *string
	Prerequisites        []struct{ Code string }
	RequirementPaths     [][]struct{ Code string }
	Languages            []string
	RenewalAssessment    *struct {
		Version       int
		PassingScore  int
		QuestionCount int
		Languages     []string
	}
}

const catalogQuery = `query($first: Int, $after: String, $filter: CertificationFilter) {
  certifications(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { code } }
    nodes { code level expires releasedOn renewalAvailableFrom languages
            prerequisites { code } requirementPaths { code }
            renewalAssessment { version passingScore questionCount languages } }
  }
}`

type catalogPage struct {
	Certifications struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Nodes []certNode
	}
}

func TestShippedCatalog(t *testing.T) {
	env := apitest.New(t)
	var page catalogPage
	env.MustDo(apitest.Anonymous, catalogQuery, map[string]any{"first": 100}, &page)
	c := page.Certifications
	if c.TotalCount != 23 || len(c.Nodes) != 23 || c.PageInfo.HasNextPage {
		t.Fatalf("got total %d, %d nodes, more %v; want 23, 23, false", c.TotalCount, len(c.Nodes), c.PageInfo.HasNextPage)
	}
	by := map[string]certNode{}
	fundamentals, assessments := 0, 0
	for _, n := range c.Nodes {
		by[n.Code] = n
		if n.Level == "FUNDAMENTALS" {
			fundamentals++
			if n.Expires || n.RenewalAvailableFrom != nil || n.RenewalAssessment != nil {
				t.Errorf("%s: fundamentals must not expire or renew: %+v", n.Code, n)
			}
		} else {
			if !n.Expires || n.RenewalAssessment == nil {
				t.Errorf("%s: got expires %v, assessment %v; want true and one", n.Code, n.Expires, n.RenewalAssessment)
				continue
			}
			assessments++
			a := n.RenewalAssessment
			if a.Version != 1 || a.PassingScore != 60 || a.QuestionCount < 1 {
				t.Errorf("%s: assessment %+v, want version 1 passing 60", n.Code, a)
			}
		}
		if !contains(n.Languages, "en") || !contains(n.Languages, "ja") {
			t.Errorf("%s: languages %v lack en or ja", n.Code, n.Languages)
		}
	}
	if fundamentals != 4 || assessments != 19 {
		t.Fatalf("got %d fundamentals and %d assessments, want 4 and 19", fundamentals, assessments)
	}
	if got := paths(by["azure-administrator-associate"]); got != "AZ-103|AZ-104" {
		t.Errorf("azure administrator paths: got %s, want AZ-103|AZ-104", got)
	}
	if got := paths(by["azure-data-engineer-associate"]); got != "DP-200+DP-201|DP-203" {
		t.Errorf("data engineer paths: got %s, want DP-200+DP-201|DP-203", got)
	}
	if got := codes(by["devops-engineer-expert"].Prerequisites); got != "azure-administrator-associate,azure-developer-associate" {
		t.Errorf("devops prerequisites: got %s", got)
	}
	if got := codes(by["enterprise-administrator-expert"].Prerequisites); got != "messaging-administrator-associate,modern-desktop-administrator-associate,security-administrator-associate" {
		t.Errorf("enterprise administrator prerequisites: got %s", got)
	}
	az := by["azure-administrator-associate"]
	if az.RenewalAvailableFrom == nil {
		t.Fatal("azure administrator has no renewalAvailableFrom")
	}
	if want := mustAddMonths(t, az.ReleasedOn, 6); *az.RenewalAvailableFrom != want {
		t.Errorf("renewalAvailableFrom: got %s, want releasedOn + 6 months = %s", *az.RenewalAvailableFrom, want)
	}
}

func TestCatalogFilters(t *testing.T) {
	env := apitest.New(t)
	cases := []struct {
		name   string
		filter map[string]any
		want   int
	}{
		{"fundamentals", map[string]any{"level": "FUNDAMENTALS"}, 4},
		{"experts", map[string]any{"level": "EXPERT"}, 3},
		{"renewable", map[string]any{"renewable": true}, 19},
		{"not renewable", map[string]any{"renewable": false}, 4},
		{"search is case-insensitive", map[string]any{"search": "AZURE ADMIN"}, 1},
		{"search by code part", map[string]any{"search": "dynamics-365"}, 7},
		{"wildcards are literal", map[string]any{"search": "%"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var page catalogPage
			env.MustDo(apitest.Anonymous, catalogQuery, map[string]any{"first": 100, "filter": c.filter}, &page)
			if page.Certifications.TotalCount != c.want || len(page.Certifications.Nodes) != c.want {
				t.Fatalf("got %d (%d nodes), want %d", page.Certifications.TotalCount, len(page.Certifications.Nodes), c.want)
			}
		})
	}
}

func TestPaginationWalksEveryPageOnce(t *testing.T) {
	env := apitest.New(t)
	seen := map[string]bool{}
	var order []string
	var after any
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		var page catalogPage
		env.MustDo(apitest.Anonymous, catalogQuery, map[string]any{"first": 5, "after": after}, &page)
		for _, n := range page.Certifications.Nodes {
			if seen[n.Code] {
				t.Fatalf("got %s twice", n.Code)
			}
			seen[n.Code] = true
			order = append(order, n.Code)
		}
		if !page.Certifications.PageInfo.HasNextPage {
			break
		}
		after = *page.Certifications.PageInfo.EndCursor
	}
	if len(seen) != 23 || !sort.StringsAreSorted(order) {
		t.Fatalf("got %d certifications in order %v, want 23 sorted by code", len(seen), order)
	}
	for _, bad := range []map[string]any{{"first": 0}, {"first": 101}, {"first": -1}, {"after": "!!"}} {
		env.MustFail(apitest.Anonymous, catalogQuery, bad, "BAD_USER_INPUT")
	}
}

func TestCertificationByCodeAndNode(t *testing.T) {
	env := apitest.New(t)
	var d struct {
		Certification *struct{ ID, Code string }
		Missing       *struct{ Code string }
	}
	env.MustDo(apitest.Anonymous, `{ certification(code: "azure-fundamentals") { id code } missing: certification(code: "nope") { code } }`, nil, &d)
	if d.Certification == nil || d.Certification.Code != "azure-fundamentals" || d.Missing != nil {
		t.Fatalf("got %+v, want azure-fundamentals and null", d)
	}
	var n struct{ Node *struct{ Code string } }
	env.MustDo(apitest.Anonymous, `query($id: ID!) { node(id: $id) { ... on Certification { code } } }`, map[string]any{"id": d.Certification.ID}, &n)
	if n.Node == nil || n.Node.Code != "azure-fundamentals" {
		t.Fatalf("node: got %+v, want azure-fundamentals", n.Node)
	}
	env.MustFail(apitest.Anonymous, `{ node(id: "%%%") { id } }`, nil, "BAD_USER_INPUT")
}

func TestTransportAndProbes(t *testing.T) {
	env := apitest.New(t)
	h := env.Server.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := get("/healthz"); rec.Code != 200 {
		t.Errorf("healthz: got %d, want 200", rec.Code)
	}
	if rec := get("/readyz"); rec.Code != 200 {
		t.Errorf("readyz: got %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := get("/metrics"); rec.Code != http.StatusNotFound {
		t.Errorf("metrics on the API handler: got %d, want 404 (it is on the admin listener)", rec.Code)
	}
	if rec := get("/"); rec.Code != 200 || !strings.Contains(strings.ToLower(rec.Body.String()), "graphiql") {
		t.Errorf("GraphiQL: got %d, want the page", rec.Code)
	}
	// Queries over GET work; mutations over GET are refused.
	q := url.QueryEscape(`{ certifications(first: 1) { totalCount } }`)
	if rec := get("/graphql?query=" + q); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"totalCount":23`) {
		t.Errorf("GET query: got %d %s", rec.Code, rec.Body)
	}
	m := url.QueryEscape(`mutation { createCertificationProfile(input: {legalName: "A", email: "a@b.c"}) { certificationProfile { mcid } } }`)
	if rec := get("/graphql?query=" + m); rec.Code == 200 && !strings.Contains(rec.Body.String(), "errors") {
		t.Errorf("GET mutation: got %d %s, want refused", rec.Code, rec.Body)
	}
	// A body over the cap is refused before it is read.
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(strings.Repeat("x", 2<<20)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: got %d, want 413", rec.Code)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func paths(c certNode) string {
	var out []string
	for _, p := range c.RequirementPaths {
		var cs []string
		for _, e := range p {
			cs = append(cs, e.Code)
		}
		sort.Strings(cs)
		out = append(out, strings.Join(cs, "+"))
	}
	sort.Strings(out)
	return strings.Join(out, "|")
}

func codes(list []struct{ Code string }) string {
	var cs []string
	for _, c := range list {
		cs = append(cs, c.Code)
	}
	sort.Strings(cs)
	return strings.Join(cs, ",")
}

func mustAddMonths(t *testing.T, d string, n int) string {
	t.Helper()
	tm, err := time.Parse(time.DateOnly, d)
	if err != nil {
		t.Fatal(err)
	}
	// The shipped release dates are all on days every month has, so AddDate is exact here.
	if tm.Day() > 28 {
		t.Fatalf("release date %s needs clamping; use the date package", d)
	}
	return tm.AddDate(0, n, 0).Format(time.DateOnly)
}

// GraphiQL outside production starts with the development learner's token in its headers, and
// that token signs in (issue 14).
func TestGraphiQLStartsWithTheDevelopmentLearnerToken(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"AUTH_HS256_SECRET": apitest.Secret, "AUTH_ISSUER": apitest.Issuer}))
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	m := regexp.MustCompile(`"Authorization":\s*"Bearer ([A-Za-z0-9_.-]+)"`).FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		t.Fatalf("got %d without a bearer token in the page:\n%s", rec.Code, rec.Body)
	}
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { account { email displayName } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+m[1])
	rec = httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"email":"learner@example.com","displayName":"Dev Learner"`) {
		t.Fatalf("the page's token: got %d %s, want the development learner", rec.Code, rec.Body)
	}
}
