// Package certprofile holds certification (MCID) profiles and their connection to Learn
// profiles (docs/domain.md "People and identities", "Connecting the profiles").
package certprofile

import (
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Status is a certification profile's status.
type Status string

// The profile statuses.
const (
	StatusActive Status = "ACTIVE"
	StatusMerged Status = "MERGED"
)

// Profile is a certification profile.
type Profile struct {
	ID                uuid.UUID
	MCID              int64
	AccountID         uuid.UUID
	LegalName         string
	Email             string
	PreferredLanguage *string
	Status            Status
	MergedInto        *uuid.UUID
	MergedAt          *time.Time
	CreatedAt         time.Time
}

// MCIDString is the MCID as clients see it.
func (p *Profile) MCIDString() string { return strconv.FormatInt(p.MCID, 10) }

// Link is the one-to-one connection of a Learn profile and a certification profile.
type Link struct {
	LearnProfileID         uuid.UUID
	CertificationProfileID uuid.UUID
	LinkedAt               time.Time
}
