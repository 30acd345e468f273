// Package learner holds accounts (sign-in identities) and their Learn profiles
// (docs/domain.md "People and identities").
package learner

import (
	"time"

	"github.com/google/uuid"
)

// Kind is an account's kind: personal Microsoft account or an organisation's account.
type Kind string

// The account kinds.
const (
	KindPersonal     Kind = "PERSONAL"
	KindWorkOrSchool Kind = "WORK_OR_SCHOOL"
)

// Account is a sign-in identity, keyed by the token's issuer and subject.
type Account struct {
	ID          uuid.UUID
	Issuer      string
	Subject     string
	Kind        Kind
	Email       *string
	DisplayName *string
	CreatedAt   time.Time
}

// LearnProfile is the record of a person's activity on the learning site; exactly one per
// account, created with the account on its first request (docs/domain.md, chosen).
type LearnProfile struct {
	ID        uuid.UUID
	AccountID uuid.UUID
	CreatedAt time.Time
}
