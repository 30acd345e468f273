package httpserver_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/auth"
)

// jwks serves a JWK Set on loopback; set replaces the keys (rotation) and fetches counts requests.
type jwks struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int32
}

func newJWKS(t *testing.T, keys map[string]*rsa.PrivateKey) *jwks {
	t.Helper()
	j := &jwks{}
	j.set(t, keys)
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(j.body)
	}))
	t.Cleanup(j.Close)
	return j
}

func (j *jwks) set(t *testing.T, keys map[string]*rsa.PrivateKey) {
	t.Helper()
	store := jwkset.NewMemoryStorage()
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			t.Fatal(err)
		}
	}
	body, err := store.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.body = body
	j.mu.Unlock()
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rs256 signs the env's standard claims with key, under kid (none when empty) and typ.
func rs256(t *testing.T, env *apitest.Env, key *rsa.PrivateKey, kid, typ string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, baseClaims(env.Clock.Now()))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	tok.Header["typ"] = typ
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// status posts the viewer query with the token and returns the status, first error code and
// WWW-Authenticate header.
func status(env *apitest.Env, token string) (int, string, string) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { account { id } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	code := ""
	if i := strings.Index(rec.Body.String(), `"code":"`); i >= 0 {
		code = strings.SplitN(rec.Body.String()[i+8:], `"`, 2)[0]
	}
	return rec.Code, code, rec.Header().Get("WWW-Authenticate")
}

// TestJWKSThroughHTTP drives key rotation, unknown and missing kid through the real handler
// with a JWKS endpoint on loopback.
func TestJWKSThroughHTTP(t *testing.T) {
	k1, k2, k3 := rsaKey(t), rsaKey(t), rsaKey(t)
	set := newJWKS(t, map[string]*rsa.PrivateKey{"k1": k1})
	env := apitest.New(t, apitest.WithAuth(func(c *auth.Config) { c.JWKSURL = set.URL }))

	if st, code, _ := status(env, rs256(t, env, k1, "k1", "JWT")); st != 200 || code != "" {
		t.Fatalf("k1: got %d %s, want 200", st, code)
	}
	if st, code, _ := status(env, rs256(t, env, k1, "", "JWT")); st != 200 || code != "" {
		t.Fatalf("no kid, one key in the set: got %d %s, want 200", st, code)
	}
	if n := set.fetches.Load(); n != 1 {
		t.Fatalf("got %d fetches before rotation, want 1", n)
	}

	// Rotation: the provider now publishes k2 only. The first k2 token triggers one refetch.
	set.set(t, map[string]*rsa.PrivateKey{"k2": k2, "k3": k3})
	if st, code, _ := status(env, rs256(t, env, k2, "k2", "JWT")); st != 200 || code != "" {
		t.Fatalf("k2 after rotation: got %d %s, want 200", st, code)
	}
	if n := set.fetches.Load(); n != 2 {
		t.Fatalf("got %d fetches after rotation, want 2", n)
	}
	// The retired key no longer verifies.
	if st, code, www := status(env, rs256(t, env, k1, "k1", "JWT")); st != 401 || code != "UNAUTHENTICATED" || www == "" {
		t.Fatalf("retired k1: got %d %s %q, want 401 with WWW-Authenticate", st, code, www)
	}
	// Unknown kids cannot make the server hammer the provider: refetches are rate limited.
	for i := 0; i < 5; i++ {
		if st, _, _ := status(env, rs256(t, env, k1, "unknown-kid", "JWT")); st != 401 {
			t.Fatalf("unknown kid: got %d, want 401", st)
		}
	}
	if n := set.fetches.Load(); n > 3 {
		t.Fatalf("got %d fetches after unknown kids, want at most one more", n)
	}
	// Without a kid, a set of two keys cannot say which one signed: refused, not tried in turn.
	if st, code, _ := status(env, rs256(t, env, k2, "", "JWT")); st != 401 || code != "UNAUTHENTICATED" {
		t.Fatalf("no kid, two keys: got %d %s, want 401", st, code)
	}
}

func TestRequiredTypThroughHTTP(t *testing.T) {
	k := rsaKey(t)
	set := newJWKS(t, map[string]*rsa.PrivateKey{"k": k})
	env := apitest.New(t, apitest.WithEnv(map[string]string{"AUTH_REQUIRED_TYP": "at+jwt"}),
		apitest.WithAuth(func(c *auth.Config) { c.JWKSURL = set.URL }))
	if st, _, _ := status(env, rs256(t, env, k, "k", "at+jwt")); st != 200 {
		t.Fatalf("typ at+jwt: got %d, want 200", st)
	}
	if st, code, _ := status(env, rs256(t, env, k, "k", "JWT")); st != 401 || code != "UNAUTHENTICATED" {
		t.Fatalf("typ JWT: got %d %s, want 401", st, code)
	}
}

// TestTokensOnlyFromTheAuthorizationHeader offers a valid token in the URL and in cookies: the
// caller stays anonymous.
func TestTokensOnlyFromTheAuthorizationHeader(t *testing.T) {
	env := apitest.New(t)
	tok := env.Token(apitest.Learner("cookie"))
	reqs := map[string]*http.Request{}
	r := httptest.NewRequest(http.MethodPost, "/graphql?access_token="+tok, strings.NewReader(`{"query":"{ viewer { account { id } } }"}`))
	r.Header.Set("Content-Type", "application/json")
	reqs["query string"] = r
	for _, name := range []string{"access_token", "token", "Authorization"} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { account { id } } }"}`))
		r.Header.Set("Content-Type", "application/json")
		r.AddCookie(&http.Cookie{Name: name, Value: tok})
		reqs["cookie "+name] = r
	}
	for name, r := range reqs {
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, r)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"UNAUTHENTICATED"`) {
			t.Errorf("%s: got %d %s, want the anonymous caller refused by viewer", name, rec.Code, rec.Body)
		}
	}
}

func TestInvalidCredentialsGet401WithChallenge(t *testing.T) {
	env := apitest.New(t)
	for name, header := range map[string]string{
		"garbage token":        "Bearer not.a.jwt",
		"other scheme":         "Basic dXNlcjpwYXNz",
		"empty bearer":         "Bearer ",
		"token with bad chars": "Bearer abc def",
	} {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(typename))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, req)
		if rec.Code != 401 || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") || firstCode(t, rec) != "UNAUTHENTICATED" {
			t.Errorf("%s: got %d %q %s, want 401 with a Bearer challenge", name, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
		}
		if strings.Contains(rec.Body.String(), strings.TrimPrefix(header, "Bearer ")) && len(header) > 10 {
			t.Errorf("%s: response echoes the credential", name)
		}
	}
}

// TestPanicBecomesInternalWithRequestID breaks the server on purpose (no verifier, so checking a
// token panics): the client gets 500 INTERNAL with the request id, and the server keeps serving.
func TestPanicBecomesInternalWithRequestID(t *testing.T) {
	env := apitest.New(t, apitest.WithDeps(func(d *app.Deps) { d.Verifier = nil }))
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(typename))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer abc.def.ghi")
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	id := rec.Header().Get("X-Request-Id")
	if rec.Code != 500 || firstCode(t, rec) != "INTERNAL" || id == "" || !strings.Contains(rec.Body.String(), id) {
		t.Fatalf("got %d %s (request id %q), want 500 INTERNAL carrying the request id", rec.Code, rec.Body, id)
	}
	if strings.Contains(rec.Body.String(), "nil pointer") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("the panic leaks to the client: %s", rec.Body)
	}
	if rec := request(env, "POST", "/graphql", "application/json", typename, nil); rec.Code != 200 {
		t.Fatalf("after the panic: got %d, want 200", rec.Code)
	}
}
