package auth

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevWorkTenantID is the made-up `tid` MintDev puts in work-or-school development tokens.
const DevWorkTenantID = "7e57e57e-0000-4000-8000-000000000001"

// DefaultDevTTL is the lifetime of a development token whose TTL is zero.
const DefaultDevTTL = time.Hour

// DevToken describes a development token for MintDev.
type DevToken struct {
	// Subject is the `sub` claim; required.
	Subject string
	// Personal selects ConsumerTenantID as `tid`; otherwise TenantID is used.
	Personal bool
	// TenantID is the `tid` of a work or school token; empty means DevWorkTenantID.
	TenantID string
	// Roles go into the `roles` claim; each must be one of the known roles (RoleSupport,
	// RoleExamDelivery, RoleAdmin, RoleTeamManager).
	Roles []string
	// Email is the optional `email` claim.
	Email string
	// Name is the optional `name` claim.
	Name string
	// TTL is the token's lifetime from now; zero means DefaultDevTTL.
	TTL time.Duration
}

// MintDev returns an HS256 token for d, issued at now, that a Verifier configured with the same
// secret, issuer and audience accepts. It refuses a secret shorter than MinHS256SecretLen, an
// empty subject, issuer or audience, a negative TTL and unknown roles.
func MintDev(secret []byte, issuer, audience string, now time.Time, d DevToken) (string, error) {
	switch {
	case len(secret) < MinHS256SecretLen:
		return "", fmt.Errorf("mint dev token: HS256 secret must be at least %d bytes", MinHS256SecretLen)
	case issuer == "" || audience == "":
		return "", errors.New("mint dev token: issuer and audience are required")
	case d.Subject == "":
		return "", errors.New("mint dev token: subject is required")
	case d.TTL < 0:
		return "", errors.New("mint dev token: TTL must not be negative")
	}
	for _, r := range d.Roles {
		if !slices.Contains(knownRoles, r) {
			return "", fmt.Errorf("mint dev token: unknown role %q", r)
		}
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = DefaultDevTTL
	}
	tid := DevWorkTenantID
	if d.TenantID != "" {
		tid = d.TenantID
	}
	if d.Personal {
		tid = ConsumerTenantID
	}
	c := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   d.Subject,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		TenantID: tid,
		Email:    d.Email,
		Name:     d.Name,
		Roles:    d.Roles,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint dev token: %w", err)
	}
	return s, nil
}
