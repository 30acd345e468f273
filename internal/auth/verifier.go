package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/clock"
)

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when Config.Leeway is zero.
const DefaultLeeway = 30 * time.Second

// MinHS256SecretLen is the shortest HS256 secret accepted (256 bits, RFC 7518 section 3.2).
const MinHS256SecretLen = 32

// JWKS refresh policy.
const (
	// JWKSRefreshInterval is how often the key set is fetched in the background.
	JWKSRefreshInterval = time.Hour
	// JWKSUnknownKIDInterval is the least time between two fetches triggered by a token whose
	// kid is not in the cached set (one such fetch may happen at once after start).
	JWKSUnknownKIDInterval = time.Minute
	// jwksHTTPTimeout bounds one fetch of the key set.
	jwksHTTPTimeout = 10 * time.Second
	// jwksWaitMax bounds how long a Verify call may wait for, and spend on, a refetch.
	jwksWaitMax = 5 * time.Second
)

// maxTokenLen refuses absurdly large tokens before any parsing.
const maxTokenLen = 16 << 10

// hs256 is the only symmetric algorithm accepted.
const hs256 = "HS256"

// jwksAlgs are the asymmetric algorithms accepted when a JWKS URL is configured.
var jwksAlgs = []string{"RS256", "ES256", "PS256", "EdDSA"}

// Config selects the accepted tokens. At least one of HS256Secret and JWKSURL must be set; both
// may be, in which case HS256 tokens are checked with the secret only and asymmetric tokens with
// the key set only.
type Config struct {
	// Issuer is the required `iss` (AUTH_ISSUER).
	Issuer string
	// Audience is the required `aud` value (AUTH_AUDIENCE); the token's aud must contain it.
	Audience string
	// HS256Secret enables HS256 (development, AUTH_HS256_SECRET); at least MinHS256SecretLen bytes.
	HS256Secret []byte
	// JWKSURL enables RS256, ES256, PS256 and EdDSA with keys fetched from this URL
	// (AUTH_JWKS_URL). It must be https, or http on a loopback host.
	JWKSURL string
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero means DefaultLeeway.
	Leeway time.Duration
	// RequiredTyp, when set, is the header `typ` every token must carry (compared
	// case-insensitively), for example "JWT".
	RequiredTyp string
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	secret  []byte
	keys    *jwksKeys
	methods []string
	typ     string
	parser  *jwt.Parser
	cancel  context.CancelFunc
}

// NewVerifier builds a Verifier for cfg, reading the time from clk. With a JWKS URL it fetches
// the key set once before returning (failing if that fetch fails) and then refreshes it every
// JWKSRefreshInterval, and on a token with an unknown kid at most every JWKSUnknownKIDInterval,
// until ctx ends or Close is called.
func NewVerifier(ctx context.Context, cfg Config, clk clock.Clock) (*Verifier, error) {
	switch {
	case clk == nil:
		return nil, errors.New("auth: a clock is required")
	case cfg.Issuer == "":
		return nil, errors.New("auth: issuer is required")
	case cfg.Audience == "":
		return nil, errors.New("auth: audience is required")
	case cfg.Leeway < 0:
		return nil, errors.New("auth: leeway must not be negative")
	case len(cfg.HS256Secret) == 0 && cfg.JWKSURL == "":
		return nil, errors.New("auth: configure an HS256 secret, a JWKS URL or both")
	case len(cfg.HS256Secret) > 0 && len(cfg.HS256Secret) < MinHS256SecretLen:
		return nil, fmt.Errorf("auth: HS256 secret must be at least %d bytes", MinHS256SecretLen)
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	v := &Verifier{typ: cfg.RequiredTyp}
	if len(cfg.HS256Secret) > 0 {
		v.secret = bytes.Clone(cfg.HS256Secret)
		v.methods = append(v.methods, hs256)
	}
	if cfg.JWKSURL != "" {
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, err
		}
		rctx, cancel := context.WithCancel(ctx)
		noStartWithoutKeys := false
		kf, err := keyfunc.NewDefaultOverrideCtx(rctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:                    &http.Client{Timeout: jwksHTTPTimeout},
			HTTPTimeout:               jwksHTTPTimeout,
			NoErrorReturnFirstHTTPReq: &noStartWithoutKeys,
			RateLimitWaitMax:          jwksWaitMax,
			RefreshInterval:           JWKSRefreshInterval,
			RefreshUnknownKID:         rate.NewLimiter(rate.Every(JWKSUnknownKIDInterval), 1),
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth: load JWKS: %w", err)
		}
		v.cancel = cancel
		v.keys = &jwksKeys{store: kf.Storage()}
		v.methods = append(v.methods, jwksAlgs...)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(clk.Now),
	)
	return v, nil
}

// checkJWKSURL insists on https except for loopback hosts (tests, local identity providers).
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("auth: JWKS URL must be an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errors.New("auth: JWKS URL must use https (http only on a loopback host)")
}

// Close stops the background JWKS refresh. Verify keeps using the keys already fetched.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// Methods returns the accepted signing algorithms.
func (v *Verifier) Methods() []string { return slices.Clone(v.methods) }

// Refusal reasons raised by the key function, mapped to client messages by refusal.
var (
	errAlgorithm   = errors.New("algorithm not accepted")
	errCrit        = errors.New("critical header present")
	errTyp         = errors.New("typ not accepted")
	errBadKID      = errors.New("kid is not a non-empty string")
	errKIDRequired = errors.New("kid required")
	errUnknownKey  = errors.New("unknown key")
	errKeyMismatch = errors.New("key does not fit algorithm")
)

// tokenClaims are the claims Recert reads (and MintDev writes).
type tokenClaims struct {
	jwt.RegisteredClaims
	TenantID string   `json:"tid,omitempty"`
	Email    string   `json:"email,omitempty"`
	Name     string   `json:"name,omitempty"`
	Roles    []string `json:"roles,omitempty"`
}

// Verify checks raw (the token without "Bearer ") and returns its Principal. Every failure is an
// UNAUTHENTICATED *apperr.Error whose message says what is wrong without quoting the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, apperr.Unauth("missing bearer token")
	}
	if len(raw) > maxTokenLen {
		return nil, apperr.Unauth("token is too large")
	}
	var c tokenClaims
	if tok, err := v.parser.ParseWithClaims(raw, &c, v.keyFunc(ctx)); err != nil {
		return nil, v.refusal(tok, err)
	}
	if c.Subject == "" {
		return nil, apperr.Unauth("token has no subject")
	}
	return &Principal{
		Issuer:   c.Issuer,
		Subject:  c.Subject,
		Kind:     kindOf(c.TenantID),
		TenantID: strings.ToLower(c.TenantID),
		Email:    c.Email,
		Name:     c.Name,
		Roles:    filterRoles(c.Roles),
	}, nil
}

// keyFunc picks the verification key by algorithm family: the HMAC secret only for HS256, the
// key set only for asymmetric algorithms. The parser has already refused algorithms outside
// v.methods; the checks here keep the families apart even if that list were wrong.
func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, errCrit
		}
		if v.typ != "" {
			typ, _ := t.Header["typ"].(string)
			if !strings.EqualFold(typ, v.typ) {
				return nil, errTyp
			}
		}
		alg := t.Method.Alg()
		if !slices.Contains(v.methods, alg) {
			return nil, errAlgorithm
		}
		switch t.Method.(type) {
		case *jwt.SigningMethodHMAC:
			if alg != hs256 || v.secret == nil {
				return nil, errAlgorithm
			}
			return v.secret, nil
		case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS, *jwt.SigningMethodECDSA, *jwt.SigningMethodEd25519:
			if v.keys == nil {
				return nil, errAlgorithm
			}
			return v.keys.key(ctx, t.Header, alg)
		default:
			return nil, errAlgorithm
		}
	}
}

// refusal maps a parse failure of tok (nil when unparseable) to the client-facing error.
// Messages never include token content.
func (v *Verifier) refusal(tok *jwt.Token, err error) *apperr.Error {
	var alg string
	if tok != nil {
		alg, _ = tok.Header["alg"].(string)
	}
	msg := "invalid token"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "malformed token"
	case errors.Is(err, errAlgorithm), !slices.Contains(v.methods, alg):
		// Includes "none", unknown and missing algorithms, which the parser refuses itself.
		msg = "token signing algorithm is not accepted"
	case errors.Is(err, errCrit):
		msg = "token has an unsupported critical header"
	case errors.Is(err, errTyp):
		msg = "token type is not accepted"
	case errors.Is(err, errBadKID):
		msg = "token key ID is malformed"
	case errors.Is(err, errKIDRequired):
		msg = "token has no key ID"
	case errors.Is(err, errUnknownKey):
		msg = "token signing key is unknown"
	case errors.Is(err, errKeyMismatch):
		msg = "token signing key does not match its algorithm"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		msg = "token cannot be verified"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "token signature is invalid"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "token was issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "token issuer is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "token audience is not accepted"
	}
	return apperr.Unauth(msg)
}
