package graph

import (
	"encoding/base64"
	"strings"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/scalar"

	"github.com/recert/recert/internal/apperr"
)

// kind names the type an opaque id belongs to.
type kind string

// The kinds of Node ids.
const (
	kindAccount       kind = "Account"
	kindLearnProfile  kind = "LearnProfile"
	kindProfile       kind = "CertificationProfile"
	kindCertification kind = "Certification"
	kindAssessment    kind = "RenewalAssessment"
	kindExamResult    kind = "ExamResult"
	kindEarned        kind = "EarnedCertification"
	kindAttempt       kind = "AssessmentAttempt"
	kindNotification  kind = "Notification"
	kindAuditEvent    kind = "AuditEvent"
	kindShare         kind = "TranscriptShare"
	kindTeamGrant     kind = "TeamAccessGrant"
	kindCalendarFeed  kind = "CalendarFeed"
	kindExam          kind = "Exam" // keyed by its code, not a uuid
)

// encodeID builds the opaque id of a Node (scalar.NodeID).
func encodeID(k kind, id uuid.UUID) string { return scalar.NodeID(string(k), id) }

// The ID scalar writes the id of every Node type of the schema opaquely.
func init() {
	var names []string
	for _, d := range parsedSchema.GetPossibleTypes(parsedSchema.Types["Node"]) {
		names = append(names, d.Name)
	}
	scalar.SetNodeTypes(names)
}

// encodeKeyID is encodeID for a kind keyed by text rather than a uuid (an exam's code).
func encodeKeyID(k kind, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(k) + ":" + key))
}

// decodeKeyID splits an opaque id into its kind and key, unchecked.
// Codes: BAD_USER_INPUT for a malformed id.
func decodeKeyID(s string) (kind, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", "", apperr.Invalid("malformed id")
	}
	k, rest, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", apperr.Invalid("malformed id")
	}
	return kind(k), rest, nil
}

// decodeAnyID splits an opaque id into its kind and uuid.
// Codes: BAD_USER_INPUT for a malformed id.
func decodeAnyID(s string) (kind, uuid.UUID, error) {
	k, rest, err := decodeKeyID(s)
	if err != nil {
		return "", uuid.Nil, err
	}
	id, err := uuid.Parse(rest)
	if err != nil {
		return "", uuid.Nil, apperr.Invalid("malformed id")
	}
	return k, id, nil
}

// decodeID decodes an opaque id that must be of kind want.
// Codes: BAD_USER_INPUT (malformed), NOT_FOUND (an id of another type).
func decodeID(s string, want kind) (uuid.UUID, error) {
	k, id, err := decodeAnyID(s)
	if err != nil {
		return uuid.Nil, err
	}
	if k != want {
		return uuid.Nil, apperr.Missing(strings.ToLower(string(want)))
	}
	return id, nil
}
