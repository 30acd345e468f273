package transcript_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// profile is a certification profile created through the API.
type profile struct {
	ID   string
	MCID string
	Who  apitest.Identity
}

const createProfileMutation = `mutation($in: CreateCertificationProfileInput!) {
  createCertificationProfile(input: $in) { certificationProfile { id mcid } } }`

// newProfile creates a certification profile owned by the personal account sub.
func newProfile(t *testing.T, env *apitest.Env, sub, legalName string) profile {
	t.Helper()
	who := apitest.Learner(sub)
	var out struct {
		CreateCertificationProfile struct {
			CertificationProfile struct{ ID, MCID string } `json:"certificationProfile"`
		} `json:"createCertificationProfile"`
	}
	env.MustDo(who, createProfileMutation, map[string]any{"in": map[string]any{
		"legalName": legalName, "email": sub + "@contact.example", "preferredLanguage": "en"}}, &out)
	p := out.CreateCertificationProfile.CertificationProfile
	return profile{ID: p.ID, MCID: p.MCID, Who: who}
}

const recordMutation = `mutation($in: RecordExamResultInput!) {
  recordExamResult(input: $in) {
    examResult { id exam { code } passed score takenAt externalId }
    earnedCertifications { id certification { code } earnedOn expiresOn status }
  } }`

// earned is an EarnedCertification as the tests read it.
type earned struct {
	ID            string
	Certification struct{ Code string }
	EarnedOn      string
	ExpiresOn     *string
	Status        string
}

type recorded struct {
	ExamResult struct {
		ID         string
		Exam       struct{ Code string }
		Passed     bool
		Score      *int
		TakenAt    string
		ExternalID string
	}
	EarnedCertifications []earned
}

// resultInput builds a recordExamResult input for a pass.
func resultInput(mcid, exam, takenAt, externalID string) map[string]any {
	return map[string]any{"mcid": mcid, "examCode": exam, "passed": true, "score": 800,
		"takenAt": takenAt, "language": "en", "externalId": externalID}
}

// record records a result as exam delivery and returns the payload.
func record(t *testing.T, env *apitest.Env, in map[string]any) recorded {
	t.Helper()
	var out struct{ RecordExamResult recorded }
	env.MustDo(apitest.ExamDelivery(), recordMutation, map[string]any{"in": in}, &out)
	return out.RecordExamResult
}

// pass records a passed exam for mcid at takenAt (RFC 3339) with a fresh external id.
func pass(t *testing.T, env *apitest.Env, mcid, exam, takenAt string) recorded {
	t.Helper()
	return record(t, env, resultInput(mcid, exam, takenAt, exam+"/"+mcid+"/"+takenAt))
}

func codes(list []earned) []string {
	out := []string{}
	for _, e := range list {
		out = append(out, e.Certification.Code)
	}
	return out
}

// history reads a profile's certifications (all statuses) and exam results as who.
type historyData struct {
	Node struct {
		Certifications struct {
			TotalCount int
			Nodes      []earned
		}
		ExamResults struct {
			TotalCount int
			Nodes      []struct {
				ID     string
				Passed bool
				Exam   struct{ Code string }
			}
		}
	}
}

const historyQuery = `query($id: ID!) { node(id: $id) { ... on CertificationProfile {
  certifications(first: 100) { totalCount nodes { id certification { code } earnedOn expiresOn status } }
  examResults(first: 100) { totalCount nodes { id passed exam { code } } } } } }`

func history(t *testing.T, env *apitest.Env, who apitest.Identity, profileID string) historyData {
	t.Helper()
	var out historyData
	env.MustDo(who, historyQuery, map[string]any{"id": profileID}, &out)
	return out
}

func setClock(env *apitest.Env, rfc3339 string) {
	t, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		panic(err)
	}
	env.Clock.Set(t)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// uuidOf reads the uuid inside an opaque id (base64url of "Kind:uuid"), for test setup that
// goes to the database directly.
func uuidOf(t *testing.T, id string) uuid.UUID {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	_, rest, _ := strings.Cut(string(raw), ":")
	u, err := uuid.Parse(rest)
	if err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	return u
}
