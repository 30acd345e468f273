// Package merge previews and performs support merges of duplicate certification profiles,
// with idempotency and audit events (DOMAIN.md "Merging").
package merge

import (
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/transcript"
)

// Side names a side of a merge.
type Side string

// The merge sides.
const (
	SideSurvivor  Side = "SURVIVOR"
	SideDuplicate Side = "DUPLICATE"
)

// AuditEvent records who did what to which profiles, when and why.
type AuditEvent struct {
	ID         uuid.UUID
	Action     string
	Actor      string
	Reason     *string
	Ticket     *string
	Details    string // JSON
	OccurredAt time.Time
}

// Preview is what a merge would do, computed without changing anything.
type Preview struct {
	Survivor             certprofile.Profile
	Duplicate            certprofile.Profile
	MovingCertifications int
	MovingExamResults    int
	MovingAttempts       int
	Superseded           []transcript.Earned
	Conflicts            []string
}
