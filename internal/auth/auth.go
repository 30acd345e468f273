// Package auth turns a bearer JWT into a Principal (docs/api.md "Authentication"): HS256 with a shared
// secret in development, RS256/ES256/PS256/EdDSA keys from a JWKS endpoint in production. It also
// mints development tokens and reads the Authorization header.
package auth

import (
	"context"
	"slices"

	"github.com/google/uuid"
)

// Kind is the kind of Microsoft account a caller signed in with (docs/domain.md), taken from `tid`.
type Kind string

// The account kinds.
const (
	// KindPersonal is a personal Microsoft account (tid equals ConsumerTenantID).
	KindPersonal Kind = "PERSONAL"
	// KindWorkOrSchool is an account of an organisation's tenant (any other tid, or none).
	KindWorkOrSchool Kind = "WORK_OR_SCHOOL"
)

// ConsumerTenantID is the `tid` claim of personal Microsoft accounts.
const ConsumerTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// The roles a token may grant in its `roles` claim. A learner needs none; other values are ignored.
const (
	// RoleSupport may act on behalf of learners (support tooling).
	RoleSupport = "support"
	// RoleExamDelivery may record exam results.
	RoleExamDelivery = "exam-delivery"
	// RoleAdmin may manage the catalog and everything support may do.
	RoleAdmin = "admin"
	// RoleTeamManager, on a work or school account, may read the team view of its tenant: the
	// learners who granted that tenant access (docs/domain.md "Team view").
	RoleTeamManager = "team-manager"
)

// knownRoles lists the roles kept from a token, in a stable order.
var knownRoles = []string{RoleSupport, RoleExamDelivery, RoleAdmin, RoleTeamManager}

// Principal is the verified caller of one request.
type Principal struct {
	// Issuer is the token's `iss`.
	Issuer string
	// Subject is the token's `sub`; with Issuer it identifies the caller.
	Subject string
	// Kind is derived from the token's `tid`.
	Kind Kind
	// TenantID is the token's `tid`, lower-cased: the organisation of a work or school
	// account (ConsumerTenantID for personal accounts), possibly empty.
	TenantID string
	// Email is the token's `email`, possibly empty.
	Email string
	// Name is the token's `name`, possibly empty.
	Name string
	// Roles holds the known roles of the token's `roles` claim, without duplicates.
	Roles []string
	// AccountID is set by the server after it loads or creates the account; zero when
	// the Principal leaves Verify.
	AccountID uuid.UUID
}

// HasRole reports whether p holds role. A nil Principal (anonymous) holds no role.
func (p *Principal) HasRole(role string) bool {
	return p != nil && slices.Contains(p.Roles, role)
}

// Identity returns "iss|sub", the stable identity used as the actor in logs and audit events.
// It returns "" for a nil Principal.
func (p *Principal) Identity() string {
	if p == nil {
		return ""
	}
	return p.Issuer + "|" + p.Subject
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the Principal stored by WithPrincipal, or nil when the caller is anonymous.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// kindOf maps a `tid` claim to an account kind.
func kindOf(tid string) Kind {
	if tid == ConsumerTenantID {
		return KindPersonal
	}
	return KindWorkOrSchool
}

// filterRoles keeps the known roles of raw, in knownRoles order, without duplicates.
func filterRoles(raw []string) []string {
	var out []string
	for _, r := range knownRoles {
		if slices.Contains(raw, r) {
			out = append(out, r)
		}
	}
	return out
}
