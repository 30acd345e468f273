package merge_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The fixtures below insert rows with SQL where the mutations that create them belong to
// other issues; profiles are created through createCertificationProfile.

var agent = apitest.Support("agent-1")

// prof is a certification profile made for a test.
type prof struct {
	ID     uuid.UUID
	NodeID string
	MCID   string
	Email  string
	Owner  apitest.Identity
}

var seq atomic.Int64

// newProfile creates a profile owned by a new personal account through the API.
func newProfile(t *testing.T, env *apitest.Env, name string) prof {
	t.Helper()
	n := seq.Add(1)
	owner := apitest.Learner(fmt.Sprintf("%s-%d", strings.ToLower(strings.ReplaceAll(name, " ", "-")), n))
	return newProfileFor(t, env, owner, name)
}

// newProfileFor creates another profile for owner (a person registered twice with one account).
func newProfileFor(t *testing.T, env *apitest.Env, owner apitest.Identity, name string) prof {
	t.Helper()
	email := fmt.Sprintf("%s.%d@example.com", owner.Subject, seq.Add(1))
	var out struct {
		CreateCertificationProfile struct {
			CertificationProfile struct{ ID, Mcid string }
		}
	}
	env.MustDo(owner, `mutation($in: CreateCertificationProfileInput!) {
		createCertificationProfile(input: $in) { certificationProfile { id mcid } } }`,
		map[string]any{"in": map[string]any{"legalName": name, "email": email}}, &out)
	p := prof{NodeID: out.CreateCertificationProfile.CertificationProfile.ID,
		MCID: out.CreateCertificationProfile.CertificationProfile.Mcid, Email: email, Owner: owner}
	mustGet(t, env.DB, &p.ID, `SELECT id FROM certification_profiles WHERE mcid = $1`, p.MCID)
	return p
}

func mustGet(t *testing.T, db *sqlx.DB, dest any, q string, args ...any) {
	t.Helper()
	if err := db.Get(dest, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func mustExec(t *testing.T, db *sqlx.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// addEarned inserts an earned certification; expiresOn "" for fundamentals.
func addEarned(t *testing.T, env *apitest.Env, p prof, certCode, earnedOn, expiresOn string) uuid.UUID {
	t.Helper()
	var exp any
	if expiresOn != "" {
		exp = expiresOn
	}
	var id uuid.UUID
	mustGet(t, env.DB, &id, `INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT $1, c.id, $3, $4, $5 FROM certifications c WHERE c.code = $2 RETURNING id`, p.ID, certCode, earnedOn, exp, env.Clock.Now())
	return id
}

// addResult inserts an exam result.
func addResult(t *testing.T, env *apitest.Env, p prof, exam string, passed bool) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	mustGet(t, env.DB, &id, `INSERT INTO exam_results (profile_id, exam_code, passed, score, taken_at, external_id, recorded_at)
VALUES ($1, $2, $3, 800, $4, $5, $4) RETURNING id`, p.ID, exam, passed, env.Clock.Now(), "ext-"+uuid.NewString())
	return id
}

// addAttempt inserts a renewal attempt on an earned certification, submitted (and passed)
// or in progress, with one served question.
func addAttempt(t *testing.T, env *apitest.Env, earnedID uuid.UUID, submitted bool) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	var sub, score, passed any
	if submitted {
		sub, score, passed = env.Clock.Now(), 80, true
	}
	mustGet(t, env.DB, &id, `
INSERT INTO assessment_attempts (earned_certification_id, version_id, language, cycle_expires_on, started_at, submitted_at, score, passed)
SELECT e.id, v.id, 'en', e.expires_on, $2, $3, $4, $5
FROM earned_certifications e
JOIN renewal_assessments r ON r.certification_id = e.certification_id
JOIN assessment_versions v ON v.assessment_id = r.id AND v.version = 1
WHERE e.id = $1 RETURNING id`, earnedID, env.Clock.Now(), sub, score, passed)
	mustExec(t, env.DB, `INSERT INTO attempt_questions (attempt_id, question_id, position, choice_order)
SELECT $1, q.id, 1, ARRAY(SELECT c.id FROM assessment_choices c WHERE c.question_id = q.id ORDER BY c.position)
FROM assessment_attempts a JOIN assessment_questions q ON q.version_id = a.version_id AND q.position = 1
WHERE a.id = $1`, id)
	return id
}

// addRenewal records a renewal by a passed attempt, extending the expiry by a year.
func addRenewal(t *testing.T, env *apitest.Env, earnedID, attemptID uuid.UUID) {
	t.Helper()
	mustExec(t, env.DB, `INSERT INTO renewals (earned_certification_id, attempt_id, renewed_at, previous_expires_on, new_expires_on)
SELECT e.id, $2, $3, e.expires_on, (e.expires_on + interval '1 year')::date FROM earned_certifications e WHERE e.id = $1`,
		earnedID, attemptID, env.Clock.Now())
	mustExec(t, env.DB, `UPDATE earned_certifications SET expires_on = (expires_on + interval '1 year')::date WHERE id = $1`, earnedID)
}

// addNotification inserts a reminder, sent or pending, addressed to email.
func addNotification(t *testing.T, env *apitest.Env, earnedID uuid.UUID, sequence int, email string, sent bool) uuid.UUID {
	t.Helper()
	var sentAt any
	if sent {
		sentAt = env.Clock.Now()
	}
	var id uuid.UUID
	mustGet(t, env.DB, &id, `INSERT INTO notifications (earned_certification_id, cycle_expires_on, sequence, kind, email,
    scheduled_for, created_at, sent_at, next_attempt_at)
SELECT e.id, e.expires_on, $2, CASE WHEN $2 = 1 THEN 'RENEWAL_WINDOW_OPEN' ELSE 'RENEWAL_REMINDER' END, $3, $4, $4, $5, $4
FROM earned_certifications e WHERE e.id = $1 RETURNING id`, earnedID, sequence, email, env.Clock.Now(), sentAt)
	return id
}

// addShare inserts a transcript share and returns its code.
func addShare(t *testing.T, env *apitest.Env, p prof) string {
	t.Helper()
	code := strings.ReplaceAll(uuid.NewString()+uuid.NewString(), "-", "")
	mustExec(t, env.DB, `INSERT INTO transcript_shares (profile_id, code, created_at) VALUES ($1, $2, $3)`, p.ID, code, env.Clock.Now())
	return code
}

// addAlternate gives p an alternate email.
func addAlternate(t *testing.T, env *apitest.Env, p prof, email string) {
	t.Helper()
	mustExec(t, env.DB, `INSERT INTO profile_alternate_emails (profile_id, email, added_at) VALUES ($1, $2, $3)`, p.ID, email, env.Clock.Now())
}

// learnProfileOf returns the Learn profile id of an identity's account.
func learnProfileOf(t *testing.T, env *apitest.Env, id apitest.Identity) uuid.UUID {
	t.Helper()
	env.MustDo(id, `{ viewer { learnProfile { id } } }`, nil, nil)
	var lp uuid.UUID
	mustGet(t, env.DB, &lp, `SELECT l.id FROM learn_profiles l JOIN accounts a ON a.id = l.account_id WHERE a.subject = $1`, id.Subject)
	return lp
}

// connect connects p to its owner's Learn profile.
func connect(t *testing.T, env *apitest.Env, p prof) uuid.UUID {
	t.Helper()
	lp := learnProfileOf(t, env, p.Owner)
	mustExec(t, env.DB, `INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
SELECT $1, p.id, p.account_id, $3 FROM certification_profiles p WHERE p.id = $2`, lp, p.ID, env.Clock.Now())
	return lp
}

// movedTables are the tables a merge moves rows of (directly or by hanging off a moved row).
var movedTables = []string{"earned_certifications", "exam_results", "assessment_attempts", "attempt_questions",
	"renewals", "notifications", "transcript_shares", "profile_alternate_emails", "profile_links", "certification_profiles"}

// tableCounts counts the rows of every moved table.
func tableCounts(t *testing.T, db *sqlx.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range movedTables {
		var n int
		mustGet(t, db, &n, `SELECT count(*) FROM `+tbl)
		out[tbl] = n
	}
	return out
}

// profileCounts counts what belongs to a profile in every moved table.
func profileCounts(t *testing.T, db *sqlx.DB, id uuid.UUID) map[string]int {
	t.Helper()
	queries := map[string]string{
		"earned":        `SELECT count(*) FROM earned_certifications WHERE profile_id = $1`,
		"current":       `SELECT count(*) FROM earned_certifications WHERE profile_id = $1 AND superseded_at IS NULL`,
		"examResults":   `SELECT count(*) FROM exam_results WHERE profile_id = $1`,
		"attempts":      `SELECT count(*) FROM assessment_attempts a JOIN earned_certifications e ON e.id = a.earned_certification_id WHERE e.profile_id = $1`,
		"renewals":      `SELECT count(*) FROM renewals r JOIN earned_certifications e ON e.id = r.earned_certification_id WHERE e.profile_id = $1`,
		"notifications": `SELECT count(*) FROM notifications n JOIN earned_certifications e ON e.id = n.earned_certification_id WHERE e.profile_id = $1`,
		"shares":        `SELECT count(*) FROM transcript_shares WHERE profile_id = $1`,
		"links":         `SELECT count(*) FROM profile_links WHERE certification_profile_id = $1`,
	}
	out := map[string]int{}
	for k, q := range queries {
		var n int
		mustGet(t, db, &n, q, id)
		out[k] = n
	}
	return out
}

// sum adds count maps key by key.
func sum(ms ...map[string]int) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

func sameCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if !maps.Equal(got, want) {
		keys := slices.Sorted(maps.Keys(want))
		var b strings.Builder
		for _, k := range keys {
			if got[k] != want[k] {
				fmt.Fprintf(&b, " %s: got %d, want %d;", k, got[k], want[k])
			}
		}
		t.Fatalf("%s:%s", what, b.String())
	}
}

// zero is profileCounts of a profile that has nothing.
var zero = map[string]int{"earned": 0, "current": 0, "examResults": 0, "attempts": 0, "renewals": 0,
	"notifications": 0, "shares": 0, "links": 0}

// post runs a GraphQL request through the handler without touching testing.T, so goroutines
// can use it; tokens must be minted beforehand.
func post(h http.Handler, token, query string, vars map[string]any) (apitest.Response, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := apitest.Response{Status: rec.Code, Raw: rec.Body.Bytes()}
	if err := json.Unmarshal(r.Raw, &r); err != nil {
		return r, fmt.Errorf("decode response (status %d): %w: %s", rec.Code, err, r.Raw)
	}
	return r, nil
}

const mergeMutation = `mutation($in: MergeCertificationProfilesInput!) {
  mergeCertificationProfiles(input: $in) {
    survivor { id mcid status }
    duplicate { id mcid status mergedInto { id } }
    auditEvent { id action actor reason ticket occurredAt details }
  }
}`

const previewMutation = `mutation($in: PreviewCertificationProfileMergeInput!) {
  previewCertificationProfileMerge(input: $in) {
    preview {
      survivor { id mcid status }
      duplicate { id mcid status }
      movingCertifications movingExamResults movingAttempts
      supersededCertifications { id }
      conflicts
    }
  }
}`

type mergeOut struct {
	MergeCertificationProfiles struct {
		Survivor  struct{ ID, Mcid, Status string }
		Duplicate struct {
			ID, Mcid, Status string
			MergedInto       *struct{ ID string }
		}
		AuditEvent struct {
			ID, Action, Actor string
			Reason, Ticket    *string
			OccurredAt        string
			Details           string
		}
	}
}

type previewOut struct {
	PreviewCertificationProfileMerge struct {
		Preview struct {
			Survivor, Duplicate                                     struct{ ID, Mcid, Status string }
			MovingCertifications, MovingExamResults, MovingAttempts int
			SupersededCertifications                                []struct{ ID string }
			Conflicts                                               []string
		}
	}
}

// mergeInput builds the mutation input; extra keys override.
func mergeInput(surv, dup prof, key string, extra map[string]any) map[string]any {
	in := map[string]any{"survivorId": surv.NodeID, "duplicateId": dup.NodeID, "reason": "same person registered twice",
		"idempotencyKey": key}
	for k, v := range extra {
		in[k] = v
	}
	return map[string]any{"in": in}
}

// doMerge merges dup into surv as the agent and returns the payload.
func doMerge(t *testing.T, env *apitest.Env, surv, dup prof, key string, extra map[string]any) mergeOut {
	t.Helper()
	var out mergeOut
	env.MustDo(agent, mergeMutation, mergeInput(surv, dup, key, extra), &out)
	return out
}

// auditRows counts audit events of an action linked to a profile.
func auditRows(t *testing.T, db *sqlx.DB, action string, profile uuid.UUID) int {
	t.Helper()
	var n int
	mustGet(t, db, &n, `SELECT count(*) FROM audit_events e JOIN audit_event_profiles ep ON ep.event_id = e.id
WHERE e.action = $1 AND ep.profile_id = $2`, action, profile)
	return n
}

// encodeProfileID builds the opaque id of a profile, for ids of profiles that do not exist
// (graph/ids.go: base64url of "Kind:uuid").
func encodeProfileID(id uuid.UUID) string { return encodeID("CertificationProfile", id) }

// encodeID builds the opaque id of any Node.
func encodeID(kind string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id.String()))
}

// supersededIDs decodes the EarnedCertification ids of a preview, sorted.
func supersededIDs(t *testing.T, env *apitest.Env, list []struct{ ID string }) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	for _, e := range list {
		raw, err := base64.RawURLEncoding.DecodeString(e.ID)
		kind, id, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok || kind != "EarnedCertification" {
			t.Fatalf("got id %q, want an EarnedCertification id", e.ID)
		}
		out = append(out, uuid.MustParse(id))
	}
	return sorted(out)
}

func jsonInto(raw []byte, out any) error { return json.Unmarshal(raw, out) }
