package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/clock"
)

const (
	testIss = "https://login.example.test/v2.0"
	testAud = "api://recert"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("ffffffffffffffffffffffffffffffff")
	t0          = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
)

// claimsAt returns valid claims issued at now.
func claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIss,
		"aud":   testAud,
		"sub":   "user-1",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"tid":   DevWorkTenantID,
		"email": "ada@example.test",
		"name":  "Ada Lovelace",
	}
}

// with returns a copy of c with the given claims set, or deleted when the value is nil.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// forge builds a token with the given header and a random signature of sigLen bytes, for
// checks that must refuse a token before its signature is looked at.
func forge(t *testing.T, m jwt.SigningMethod, c jwt.MapClaims, header map[string]any, sigLen int) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	ss, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, sigLen)
	_, _ = rand.Read(sig)
	return ss + "." + tok.EncodeSegment(sig)
}

func newVerifier(t *testing.T, cfg Config, clk clock.Clock) *Verifier {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = testIss
	}
	if cfg.Audience == "" {
		cfg.Audience = testAud
	}
	v, err := NewVerifier(context.Background(), cfg, clk)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// assertUnauth checks err is an UNAUTHENTICATED *apperr.Error with message want (if not empty)
// that does not echo the token.
func assertUnauth(t *testing.T, err error, want, raw string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not *apperr.Error", err, err)
	}
	if ae.Code != apperr.Unauthenticated {
		t.Fatalf("code = %s, want %s", ae.Code, apperr.Unauthenticated)
	}
	if want != "" && ae.Message != want {
		t.Errorf("message = %q, want %q", ae.Message, want)
	}
	if raw != "" && strings.Contains(ae.Message, raw) {
		t.Errorf("message echoes the token")
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustEC(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type pubKey struct {
	kid string
	alg jwkset.ALG
	key crypto.PublicKey
}

// jwksServer serves a JWK Set over loopback; set replaces the served keys (key rotation).
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...pubKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t *testing.T, keys ...pubKey) {
	t.Helper()
	ctx := context.Background()
	store := jwkset.NewMemoryStorage()
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatalf("jwk %s: %v", k.kid, err)
		}
		if err := store.KeyWrite(ctx, jwk); err != nil {
			t.Fatal(err)
		}
	}
	body, err := store.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func TestVerify_HS256(t *testing.T) {
	clk := clock.NewSettable(t0)
	v := newVerifier(t, Config{HS256Secret: testSecret}, clk)
	rsaKey := mustRSA(t)
	base := claimsAt(t0)

	t.Run("valid token gives principal fields", func(t *testing.T) {
		clk.Set(t0)
		raw := sign(t, jwt.SigningMethodHS256, testSecret, with(base, "roles", []string{"support"}), nil)
		p, err := v.Verify(context.Background(), raw)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		want := Principal{Issuer: testIss, Subject: "user-1", Kind: KindWorkOrSchool,
			Email: "ada@example.test", Name: "Ada Lovelace", Roles: []string{RoleSupport}}
		if p.Issuer != want.Issuer || p.Subject != want.Subject || p.Kind != want.Kind ||
			p.Email != want.Email || p.Name != want.Name || !slices.Equal(p.Roles, want.Roles) {
			t.Errorf("principal = %+v, want %+v", *p, want)
		}
		if p.AccountID != [16]byte{} {
			t.Errorf("AccountID = %v, want zero", p.AccountID)
		}
		if got := p.Identity(); got != testIss+"|user-1" {
			t.Errorf("Identity = %q", got)
		}
	})

	accepted := []struct {
		name string
		raw  string
		at   time.Time
	}{
		{"exp within leeway", sign(t, jwt.SigningMethodHS256, testSecret, base, nil), t0.Add(time.Hour + 29*time.Second)},
		{"nbf within leeway", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "nbf", t0.Add(20*time.Second).Unix()), nil), t0},
		{"iat in the future within leeway", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "iat", t0.Add(20*time.Second).Unix()), nil), t0},
		{"aud as array containing ours", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "aud", []string{"other", testAud}), nil), t0},
		{"no nbf and no iat", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "nbf", nil, "iat", nil), nil), t0},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(tc.at)
			if _, err := v.Verify(context.Background(), tc.raw); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}

	noneTok, err := jwt.NewWithClaims(jwt.SigningMethodNone, base).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name string
		raw  string
		at   time.Time
		want string
	}{
		{"empty token", "", t0, "missing bearer token"},
		{"garbage", "not-a-jwt", t0, "malformed token"},
		{"oversized token", strings.Repeat("a", maxTokenLen+1), t0, "token is too large"},
		{"expired", sign(t, jwt.SigningMethodHS256, testSecret, base, nil), t0.Add(time.Hour + 31*time.Second), "token has expired"},
		{"missing exp", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "exp", nil), nil), t0, "token lacks a required claim"},
		{"not yet valid (nbf)", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "nbf", t0.Add(5*time.Minute).Unix()), nil), t0, "token is not valid yet"},
		{"iat in the future beyond leeway", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "iat", t0.Add(5*time.Minute).Unix()), nil), t0, "token was issued in the future"},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "iss", "https://evil.test"), nil), t0, "token issuer is not accepted"},
		{"missing issuer", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "iss", nil), nil), t0, "token lacks a required claim"},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "aud", "api://other"), nil), t0, "token audience is not accepted"},
		{"missing audience", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "aud", nil), nil), t0, "token lacks a required claim"},
		{"missing sub", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "sub", nil), nil), t0, "token has no subject"},
		{"empty sub", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "sub", ""), nil), t0, "token has no subject"},
		{"bad signature", sign(t, jwt.SigningMethodHS256, otherSecret, base, nil), t0, "token signature is invalid"},
		{"alg none", noneTok, t0, "token signing algorithm is not accepted"},
		{"HS384 not configured", sign(t, jwt.SigningMethodHS384, testSecret, base, nil), t0, "token signing algorithm is not accepted"},
		{"RS256 token when only HS256 configured", sign(t, jwt.SigningMethodRS256, rsaKey, base, nil), t0, "token signing algorithm is not accepted"},
		{"crit header", sign(t, jwt.SigningMethodHS256, testSecret, base, map[string]any{"crit": []string{"exp"}}), t0, "token has an unsupported critical header"},
		{"roles not an array of strings", sign(t, jwt.SigningMethodHS256, testSecret, with(base, "roles", 7), nil), t0, "malformed token"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(tc.at)
			p, err := v.Verify(context.Background(), tc.raw)
			if p != nil {
				t.Errorf("principal = %+v, want nil", p)
			}
			assertUnauth(t, err, tc.want, tc.raw)
		})
	}
}

func TestVerify_RequiredTyp(t *testing.T) {
	clk := clock.NewSettable(t0)
	v := newVerifier(t, Config{HS256Secret: testSecret, RequiredTyp: "jwt"}, clk)
	base := claimsAt(t0)
	tests := []struct {
		name string
		typ  any
		ok   bool
	}{
		{"typ JWT matches case-insensitively", "JWT", true},
		{"typ at+jwt refused", "at+jwt", false},
		{"typ missing refused", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := sign(t, jwt.SigningMethodHS256, testSecret, base, map[string]any{"typ": tc.typ})
			_, err := v.Verify(context.Background(), raw)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			assertUnauth(t, err, "token type is not accepted", raw)
		})
	}
}

func TestVerify_TenantGivesKind(t *testing.T) {
	clk := clock.NewSettable(t0)
	v := newVerifier(t, Config{HS256Secret: testSecret}, clk)
	tests := []struct {
		name string
		tid  any
		want Kind
	}{
		{"consumer tid is personal", ConsumerTenantID, KindPersonal},
		{"other tid is work or school", "72f988bf-86f1-41af-91ab-2d7cd011db47", KindWorkOrSchool},
		{"missing tid is work or school", nil, KindWorkOrSchool},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := sign(t, jwt.SigningMethodHS256, testSecret, with(claimsAt(t0), "tid", tc.tid), nil)
			p, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Kind != tc.want {
				t.Errorf("Kind = %s, want %s", p.Kind, tc.want)
			}
		})
	}
}

func TestVerify_RolesParsed(t *testing.T) {
	clk := clock.NewSettable(t0)
	v := newVerifier(t, Config{HS256Secret: testSecret}, clk)
	tests := []struct {
		name  string
		roles any
		want  []string
	}{
		{"missing roles", nil, nil},
		{"empty roles", []string{}, nil},
		{"all known roles", []string{"admin", "exam-delivery", "support"}, []string{RoleSupport, RoleExamDelivery, RoleAdmin}},
		{"unknown and duplicate roles ignored", []string{"admin", "root", "admin", "Support"}, []string{RoleAdmin}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := sign(t, jwt.SigningMethodHS256, testSecret, with(claimsAt(t0), "roles", tc.roles), nil)
			p, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !slices.Equal(p.Roles, tc.want) {
				t.Errorf("Roles = %v, want %v", p.Roles, tc.want)
			}
			for _, r := range knownRoles {
				if p.HasRole(r) != slices.Contains(tc.want, r) {
					t.Errorf("HasRole(%q) = %v", r, p.HasRole(r))
				}
			}
		})
	}
}

func TestVerify_JWKS(t *testing.T) {
	rsaKey, ecKey := mustRSA(t), mustEC(t, elliptic.P256())
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	strangerRSA, p384 := mustRSA(t), mustEC(t, elliptic.P384())
	srv := newJWKSServer(t,
		pubKey{"rsa-1", jwkset.AlgRS256, rsaKey.Public()},
		pubKey{"ec-1", jwkset.AlgES256, ecKey.Public()},
		pubKey{"ed-1", jwkset.AlgEdDSA, edKey.Public()},
		pubKey{"p384", "", p384.Public()},
	)
	clk := clock.NewSettable(t0)
	v := newVerifier(t, Config{JWKSURL: srv.URL}, clk)
	base := claimsAt(t0)

	der, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	accepted := []struct {
		name string
		raw  string
	}{
		{"RS256 with kid", sign(t, jwt.SigningMethodRS256, rsaKey, base, map[string]any{"kid": "rsa-1"})},
		{"ES256 with kid", sign(t, jwt.SigningMethodES256, ecKey, base, map[string]any{"kid": "ec-1"})},
		{"EdDSA with kid", sign(t, jwt.SigningMethodEdDSA, edKey, base, map[string]any{"kid": "ed-1"})},
		{"RS256 without kid and a single RS256 key", sign(t, jwt.SigningMethodRS256, rsaKey, base, nil)},
		{"ES256 without kid and a single P-256 key", sign(t, jwt.SigningMethodES256, ecKey, base, nil)},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tc.raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != "user-1" || p.Issuer != testIss {
				t.Errorf("principal = %+v", *p)
			}
		})
	}

	refused := []struct {
		name string
		raw  string
		want string
	}{
		{"HS256 token when only JWKS configured", sign(t, jwt.SigningMethodHS256, testSecret, base, nil), "token signing algorithm is not accepted"},
		{"HS256 signed with RSA public key PEM (confusion)", sign(t, jwt.SigningMethodHS256, pubPEM, base, map[string]any{"kid": "rsa-1"}), "token signing algorithm is not accepted"},
		{"RS256 signed by a key outside the set", sign(t, jwt.SigningMethodRS256, strangerRSA, base, map[string]any{"kid": "rsa-1"}), "token signature is invalid"},
		{"RS256 with the EC key's kid", sign(t, jwt.SigningMethodRS256, rsaKey, base, map[string]any{"kid": "ec-1"}), "token signing key does not match its algorithm"},
		{"PS256 with a key pinned to RS256", sign(t, jwt.SigningMethodPS256, rsaKey, base, map[string]any{"kid": "rsa-1"}), "token signing key does not match its algorithm"},
		{"ES256 with a P-384 key", forge(t, jwt.SigningMethodES256, base, map[string]any{"kid": "p384"}, 64), "token signing key does not match its algorithm"},
		{"ES384 not configured", sign(t, jwt.SigningMethodES384, p384, base, map[string]any{"kid": "p384"}), "token signing algorithm is not accepted"},
		{"kid not a string", sign(t, jwt.SigningMethodRS256, rsaKey, base, map[string]any{"kid": 7}), "token key ID is malformed"},
		{"expired RS256", sign(t, jwt.SigningMethodRS256, rsaKey, with(base, "exp", t0.Add(-time.Hour).Unix(), "iat", t0.Add(-2*time.Hour).Unix(), "nbf", nil), map[string]any{"kid": "rsa-1"}), "token has expired"},
		{"wrong audience RS256", sign(t, jwt.SigningMethodRS256, rsaKey, with(base, "aud", "api://other"), map[string]any{"kid": "rsa-1"}), "token audience is not accepted"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.raw)
			assertUnauth(t, err, tc.want, tc.raw)
		})
	}
}

func TestVerify_JWKSWithoutKIDNeedsSingleKey(t *testing.T) {
	a, b := mustRSA(t), mustRSA(t)
	srv := newJWKSServer(t, pubKey{"a", jwkset.AlgRS256, a.Public()}, pubKey{"b", "", b.Public()})
	v := newVerifier(t, Config{JWKSURL: srv.URL}, clock.NewSettable(t0))
	raw := sign(t, jwt.SigningMethodRS256, a, claimsAt(t0), nil)
	_, err := v.Verify(context.Background(), raw)
	assertUnauth(t, err, "token has no key ID", raw)
}

func TestVerify_HS256AndJWKS(t *testing.T) {
	rsaKey := mustRSA(t)
	srv := newJWKSServer(t, pubKey{"rsa-1", jwkset.AlgRS256, rsaKey.Public()})
	v := newVerifier(t, Config{HS256Secret: testSecret, JWKSURL: srv.URL}, clock.NewSettable(t0))
	der, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	base := claimsAt(t0)

	for _, raw := range []string{
		sign(t, jwt.SigningMethodHS256, testSecret, base, nil),
		sign(t, jwt.SigningMethodRS256, rsaKey, base, map[string]any{"kid": "rsa-1"}),
	} {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	raw := sign(t, jwt.SigningMethodHS256, pubPEM, base, map[string]any{"kid": "rsa-1"})
	_, err = v.Verify(context.Background(), raw)
	assertUnauth(t, err, "token signature is invalid", raw)
}

func TestVerify_JWKSKeyRotation(t *testing.T) {
	oldKey, newKey := mustRSA(t), mustRSA(t)
	srv := newJWKSServer(t, pubKey{"2025-01", jwkset.AlgRS256, oldKey.Public()})
	v := newVerifier(t, Config{JWKSURL: srv.URL}, clock.NewSettable(t0))
	base := claimsAt(t0)
	oldTok := sign(t, jwt.SigningMethodRS256, oldKey, base, map[string]any{"kid": "2025-01"})
	newTok := sign(t, jwt.SigningMethodRS256, newKey, base, map[string]any{"kid": "2025-02"})

	if _, err := v.Verify(context.Background(), oldTok); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches before rotation = %d, want 1", n)
	}

	srv.set(t, pubKey{"2025-02", jwkset.AlgRS256, newKey.Public()})
	if _, err := v.Verify(context.Background(), newTok); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches after unknown kid = %d, want 2", n)
	}

	// The refetch replaced the set: the retired key is gone, and the rate limit stops another fetch.
	_, err := v.Verify(context.Background(), oldTok)
	assertUnauth(t, err, "token signing key is unknown", oldTok)
	unknown := sign(t, jwt.SigningMethodRS256, oldKey, base, map[string]any{"kid": "nope"})
	_, err = v.Verify(context.Background(), unknown)
	assertUnauth(t, err, "token signing key is unknown", unknown)
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches after rate-limited unknown kids = %d, want 2", n)
	}
}

func TestMintDev_RoundTrip(t *testing.T) {
	clk := clock.NewSettable(t0)
	v := newVerifier(t, Config{HS256Secret: testSecret}, clk)
	tests := []struct {
		name string
		d    DevToken
		want Principal
	}{
		{"personal with roles", DevToken{Subject: "p-1", Personal: true, Roles: []string{RoleAdmin, RoleSupport}, Email: "p@example.test", Name: "P"},
			Principal{Issuer: testIss, Subject: "p-1", Kind: KindPersonal, Email: "p@example.test", Name: "P", Roles: []string{RoleSupport, RoleAdmin}}},
		{"work without roles", DevToken{Subject: "w-1"},
			Principal{Issuer: testIss, Subject: "w-1", Kind: KindWorkOrSchool}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(t0)
			raw, err := MintDev(testSecret, testIss, testAud, t0, tc.d)
			if err != nil {
				t.Fatalf("MintDev: %v", err)
			}
			p, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Issuer != tc.want.Issuer || p.Subject != tc.want.Subject || p.Kind != tc.want.Kind ||
				p.Email != tc.want.Email || p.Name != tc.want.Name || !slices.Equal(p.Roles, tc.want.Roles) {
				t.Errorf("principal = %+v, want %+v", *p, tc.want)
			}
			clk.Advance(DefaultDevTTL + DefaultLeeway + time.Second)
			_, err = v.Verify(context.Background(), raw)
			assertUnauth(t, err, "token has expired", raw)
		})
	}
}

func TestMintDev_Refusals(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		d      DevToken
	}{
		{"short secret", []byte("short"), DevToken{Subject: "s"}},
		{"missing subject", testSecret, DevToken{}},
		{"unknown role", testSecret, DevToken{Subject: "s", Roles: []string{"root"}}},
		{"negative TTL", testSecret, DevToken{Subject: "s", TTL: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := MintDev(tc.secret, testIss, testAud, t0, tc.d); err == nil {
				t.Fatal("MintDev succeeded")
			}
		})
	}
}

func TestNewVerifier_Config(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"neither secret nor JWKS", Config{Issuer: testIss, Audience: testAud}},
		{"short secret", Config{Issuer: testIss, Audience: testAud, HS256Secret: []byte("short")}},
		{"missing issuer", Config{Audience: testAud, HS256Secret: testSecret}},
		{"missing audience", Config{Issuer: testIss, HS256Secret: testSecret}},
		{"negative leeway", Config{Issuer: testIss, Audience: testAud, HS256Secret: testSecret, Leeway: -time.Second}},
		{"plain http JWKS off loopback", Config{Issuer: testIss, Audience: testAud, JWKSURL: "http://keys.example.test/jwks"}},
		{"unreachable JWKS", Config{Issuer: testIss, Audience: testAud, JWKSURL: deadURL}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(context.Background(), tc.cfg, clock.NewSettable(t0))
			if err == nil {
				v.Close()
				t.Fatal("NewVerifier succeeded")
			}
		})
	}
	if _, err := NewVerifier(context.Background(), Config{Issuer: testIss, Audience: testAud, HS256Secret: testSecret}, nil); err == nil {
		t.Error("NewVerifier without clock succeeded")
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    string
		wantOK  bool
		wantErr bool
	}{
		{"missing token", nil, "", false, false},
		{"bearer token", []string{"Bearer abc.def-_.ghi"}, "abc.def-_.ghi", true, false},
		{"scheme is case-insensitive", []string{"bearer abc"}, "abc", true, false},
		{"token68 padding", []string{"Bearer abc=="}, "abc==", true, false},
		{"empty header", []string{""}, "", false, true},
		{"scheme only", []string{"Bearer"}, "", false, true},
		{"scheme and space only", []string{"Bearer "}, "", false, true},
		{"other scheme", []string{"Basic dXNlcjpwYXNz"}, "", false, true},
		{"token with inner space", []string{"Bearer abc def"}, "", false, true},
		{"token with comma", []string{"Bearer abc,def"}, "", false, true},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("Authorization", v)
			}
			got, ok, err := BearerToken(h)
			if tc.wantErr {
				assertUnauth(t, err, "", "")
				return
			}
			if err != nil || ok != tc.wantOK || got != tc.want {
				t.Fatalf("BearerToken = %q, %v, %v; want %q, %v, nil", got, ok, err, tc.want, tc.wantOK)
			}
		})
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if p := PrincipalFrom(ctx); p != nil {
		t.Fatalf("anonymous PrincipalFrom = %+v", p)
	}
	var nilP *Principal
	if nilP.HasRole(RoleAdmin) || nilP.Identity() != "" {
		t.Error("nil Principal should hold no role and no identity")
	}
	p := &Principal{Issuer: "i", Subject: "s", Roles: []string{RoleAdmin}}
	if got := PrincipalFrom(WithPrincipal(ctx, p)); got != p {
		t.Errorf("PrincipalFrom = %p, want %p", got, p)
	}
	if !p.HasRole(RoleAdmin) || p.HasRole(RoleSupport) || p.Identity() != "i|s" {
		t.Errorf("HasRole/Identity wrong for %+v", p)
	}
}
