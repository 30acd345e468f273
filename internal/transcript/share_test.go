package transcript_test

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph"
	"github.com/recert/recert/graph/app/apitest"
)

const createShareMutation = `mutation($in: CreateTranscriptShareInput!) {
  createTranscriptShare(input: $in) { share { id code createdAt expiresAt revokedAt viewCount } } }`

const revokeShareMutation = `mutation($in: RevokeTranscriptShareInput!) {
  revokeTranscriptShare(input: $in) { share { id code revokedAt viewCount } } }`

type share struct {
	ID        string
	Code      string
	CreatedAt string
	ExpiresAt *string
	RevokedAt *string
	ViewCount int
}

func createShare(t *testing.T, env *apitest.Env, p profile, expiresAt any) share {
	t.Helper()
	var out struct{ CreateTranscriptShare struct{ Share share } }
	env.MustDo(p.Who, createShareMutation, map[string]any{"in": map[string]any{
		"certificationProfileId": p.ID, "expiresAt": expiresAt}}, &out)
	return out.CreateTranscriptShare.Share
}

func revokeShare(t *testing.T, env *apitest.Env, p profile, id string) share {
	t.Helper()
	var out struct{ RevokeTranscriptShare struct{ Share share } }
	env.MustDo(p.Who, revokeShareMutation, map[string]any{"in": map[string]any{"shareId": id}}, &out)
	return out.RevokeTranscriptShare.Share
}

const sharesQuery = `query($id: ID!) { node(id: $id) { ... on CertificationProfile {
  transcriptShares { id code viewCount revokedAt expiresAt } } } }`

func shares(t *testing.T, env *apitest.Env, p profile) []share {
	t.Helper()
	var out struct {
		Node struct{ TranscriptShares []share }
	}
	env.MustDo(p.Who, sharesQuery, map[string]any{"id": p.ID}, &out)
	return out.Node.TranscriptShares
}

// publicQuery asks for every field a shared transcript offers.
const publicQuery = `query($code: String!) { transcript(shareCode: $code) {
  legalName mcid
  certifications { certification { code name level } earnedOn expiresOn status }
  examResults { exam { code title } passed takenAt } } }`

type publicData struct {
	Transcript *struct {
		LegalName      string
		MCID           string
		Certifications []earned
		ExamResults    []struct {
			Exam    struct{ Code string }
			Passed  bool
			TakenAt string
		}
	}
}

var codeShape = regexp.MustCompile(`^[A-Za-z0-9_-]{22,}$`)

func TestCreateTranscriptShare(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	a := createShare(t, env, p, nil)
	env.Clock.Advance(time.Minute)
	b := createShare(t, env, p, "2021-06-01T00:00:00Z")
	for i, s := range []share{a, b} {
		raw, err := base64.RawURLEncoding.DecodeString(s.Code)
		if !codeShape.MatchString(s.Code) || err != nil || len(raw)*8 < 128 {
			t.Fatalf("got code %q (%d bits), want base64url of at least 128 random bits", s.Code, len(raw)*8)
		}
		if want := apitest.Start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339); s.ViewCount != 0 || s.RevokedAt != nil || s.CreatedAt != want {
			t.Fatalf("got %+v, want a fresh share created now", s)
		}
	}
	if a.Code == b.Code || a.ExpiresAt != nil || b.ExpiresAt == nil || *b.ExpiresAt != "2021-06-01T00:00:00Z" {
		t.Fatalf("got %+v and %+v, want distinct codes, the second expiring 2021-06-01", a, b)
	}
	list := shares(t, env, p)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
		t.Fatalf("got shares %+v, want both, newest first", list)
	}
	var n struct{ Node *share }
	env.MustDo(p.Who, `query($id: ID!) { node(id: $id) { ... on TranscriptShare { id code viewCount } } }`, map[string]any{"id": a.ID}, &n)
	if n.Node == nil || n.Node.Code != a.Code {
		t.Fatalf("node(share) as owner: got %+v, want the share", n.Node)
	}
	n.Node = nil
	env.MustDo(apitest.Support("agent"), `query($id: ID!) { node(id: $id) { ... on TranscriptShare { id code } } }`, map[string]any{"id": a.ID}, &n)
	if n.Node != nil {
		t.Fatalf("node(share) as support: got %+v, want null (shares are the owner's)", n.Node)
	}
}

func TestTranscriptSharesAreTheOwnersOnly(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	s := createShare(t, env, p, nil)
	in := func(expiresAt any) map[string]any {
		return map[string]any{"in": map[string]any{"certificationProfileId": p.ID, "expiresAt": expiresAt}}
	}
	env.MustFail(apitest.Anonymous, createShareMutation, in(nil), "UNAUTHENTICATED")
	env.MustFail(apitest.Support("agent"), createShareMutation, in(nil), "FORBIDDEN")
	env.MustFail(apitest.Learner("mallory"), createShareMutation, in(nil), "NOT_FOUND")
	env.MustFail(apitest.Learner("mallory"), createShareMutation, map[string]any{"in": map[string]any{
		"certificationProfileId": "bm9wZQ"}}, "BAD_USER_INPUT")
	env.MustFail(p.Who, createShareMutation, in("2021-03-01T08:59:59Z"), "BAD_USER_INPUT")
	env.MustFail(p.Who, createShareMutation, in("2021-03-01T09:00:00Z"), "BAD_USER_INPUT") // now is not the future

	revoke := map[string]any{"in": map[string]any{"shareId": s.ID}}
	env.MustFail(apitest.Anonymous, revokeShareMutation, revoke, "UNAUTHENTICATED")
	env.MustFail(apitest.Support("agent"), revokeShareMutation, revoke, "FORBIDDEN")
	env.MustFail(apitest.Learner("mallory"), revokeShareMutation, revoke, "NOT_FOUND")
	env.MustFail(p.Who, revokeShareMutation, map[string]any{"in": map[string]any{"shareId": p.ID}}, "NOT_FOUND") // a profile id

	env.MustFail(apitest.Support("agent"), sharesQuery, map[string]any{"id": p.ID}, "FORBIDDEN")
	if list := shares(t, env, p); len(list) != 1 || list[0].RevokedAt != nil {
		t.Fatalf("got %+v, want the one share, not revoked", list)
	}

	dup := newProfile(t, env, "alice", "Alice Again")
	mergeForTest(t, env, dup.ID, p.ID)
	env.MustFail(dup.Who, createShareMutation, map[string]any{"in": map[string]any{"certificationProfileId": dup.ID}}, "PROFILE_ALREADY_MERGED")
}

func TestRevokeTranscriptShare(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	s := createShare(t, env, p, nil)
	var ok publicData
	env.MustDo(apitest.Anonymous, publicQuery, map[string]any{"code": s.Code}, &ok)
	env.Clock.Advance(time.Hour)
	r := revokeShare(t, env, p, s.ID)
	if r.RevokedAt == nil || *r.RevokedAt != "2021-03-01T10:00:00Z" {
		t.Fatalf("got %+v, want revoked at 10:00", r)
	}
	env.Clock.Advance(time.Hour)
	if again := revokeShare(t, env, p, s.ID); again.RevokedAt == nil || *again.RevokedAt != *r.RevokedAt {
		t.Fatalf("revoking twice: got %+v, want the first revocation kept", again)
	}
	env.MustFail(apitest.Anonymous, publicQuery, map[string]any{"code": s.Code}, "NOT_FOUND")
}

func TestPublicTranscript(t *testing.T) {
	env := apitest.New(t)
	p := statusFixture(t, env) // one certification per status, one of them superseded
	failed := resultInput(p.MCID, "AZ-400", "2021-02-20T10:00:00Z", "failed-1")
	failed["passed"] = false
	record(t, env, failed)
	s := createShare(t, env, p, nil)

	for _, who := range []apitest.Identity{apitest.Anonymous, apitest.Learner("employer"), p.Who} {
		r := env.Do(who, publicQuery, map[string]any{"code": s.Code})
		if len(r.Errors) > 0 {
			t.Fatalf("%q: got %s, want the transcript", who.Subject, r.Raw)
		}
		var out publicData
		if err := json.Unmarshal(r.Data, &out); err != nil {
			t.Fatal(err)
		}
		tr := out.Transcript
		if tr.LegalName != "Alice Example" || tr.MCID != p.MCID {
			t.Fatalf("got %s %s, want Alice Example %s", tr.LegalName, tr.MCID, p.MCID)
		}
		var got []string
		for _, e := range tr.Certifications {
			got = append(got, e.Certification.Code+" "+e.Status)
			if e.EarnedOn == "" {
				t.Fatalf("got %+v, want dates", e)
			}
		}
		sort.Strings(got)
		want := []string{"azure-administrator-associate EXPIRED", "azure-ai-engineer-associate ACTIVE",
			"azure-data-engineer-associate RENEWABLE", "azure-developer-associate RENEWABLE", "azure-fundamentals ACTIVE",
			"azure-security-engineer-associate ACTIVE", "security-administrator-associate EXPIRED"}
		if !slices.Equal(got, want) {
			t.Fatalf("got certifications %v, want %v (not superseded)", got, want)
		}
		if len(tr.ExamResults) != 8 {
			t.Fatalf("got %d exam results, want the 8 passed ones", len(tr.ExamResults))
		}
		for _, x := range tr.ExamResults {
			if !x.Passed || x.Exam.Code == "AZ-400" {
				t.Fatalf("got %+v, want passed exams only", x)
			}
		}
		for _, secret := range []string{"alice@contact.example", "@", "failed-1", "externalId", "attempt", "notification"} {
			if strings.Contains(strings.ToLower(string(r.Raw)), strings.ToLower(secret)) {
				t.Fatalf("response contains %q: %s", secret, r.Raw)
			}
		}
	}
	if list := shares(t, env, p); list[0].ViewCount != 3 {
		t.Fatalf("got viewCount %d, want 3", list[0].ViewCount)
	}
}

func TestPublicTranscriptCannotReachPrivateFields(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	in := resultInput(p.MCID, "AZ-104", "2021-02-01T10:00:00Z", "secret-ext-id")
	in["score"] = 777
	got := record(t, env, in)
	private := []string{"777", "secret-ext-id", got.ExamResult.ID, got.EarnedCertifications[0].ID}
	s := createShare(t, env, p, nil)
	for _, sel := range []string{
		`certifications { attempts { id } }`,
		`certifications { renewal { eligible attemptsThisCycle } }`,
		`certifications { renewals { renewedAt } }`,
		`certifications { id }`,
		`examResults { id }`,
		`examResults { score }`,
		`examResults { externalId }`,
		`certifications { certification { code } ... on EarnedCertification { attempts { id } } }`,
	} {
		queries := []string{`query($code: String!) { transcript(shareCode: $code) { legalName ` + sel + ` } }`,
			`query($code: String!) { transcript(shareCode: $code) { legalName ...F } } fragment F on Transcript { ` + sel + ` }`,
			// the transcript selected through fragments of the root, and next to another root field
			`query($code: String!) { ...Q } fragment Q on Query { t: transcript(shareCode: $code) { legalName ` + sel + ` } }`,
			`query($code: String!) { catalog: __typename ... on Query { transcript(shareCode: $code) { ` + sel + ` } } }`}
		for _, q := range queries {
			denied(t, env, q, s.Code, private)
		}
	}
	schemaWalk(t, env)
}

// denied runs a public transcript query that must be refused without leaking any of private.
func denied(t *testing.T, env *apitest.Env, query, code string, private []string) {
	t.Helper()
	r := env.Do(apitest.Anonymous, query, map[string]any{"code": code})
	if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
		t.Fatalf("%s: got %s, want FORBIDDEN", query, r.Raw)
	}
	for _, v := range private {
		if strings.Contains(string(r.Raw), v) {
			t.Fatalf("%s: got %s, want no %q", query, r.Raw, v)
		}
	}
}

// schemaWalk checks the schema side: walking every type the public transcript may reach,
// through the fields it may use, finds no private type and no email.
func schemaWalk(t *testing.T, env *apitest.Env) {
	t.Helper()
	var schema struct {
		Schema struct {
			Types []struct {
				Name   string
				Fields []struct {
					Name string
					Type typeRef
				}
			}
		} `json:"__schema"`
	}
	env.MustDo(apitest.Anonymous, `{ __schema { types { name fields { name type { ...T } } } } }
	  fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`, nil, &schema)
	fieldsOf := map[string]map[string]string{}
	for _, ty := range schema.Schema.Types {
		fieldsOf[ty.Name] = map[string]string{}
		for _, f := range ty.Fields {
			fieldsOf[ty.Name][f.Name] = f.Type.named()
		}
	}
	allowed := graph.PublicTranscriptFields()
	reached := map[string]bool{"Transcript": true}
	queue := []string{"Transcript"}
	for len(queue) > 0 {
		ty := queue[0]
		queue = queue[1:]
		for _, f := range allowed[ty] {
			target, ok := fieldsOf[ty][f]
			if !ok {
				t.Fatalf("allowed field %s.%s is not in the schema", ty, f)
			}
			if strings.Contains(strings.ToLower(f), "email") {
				t.Fatalf("public transcript reaches %s.%s", ty, f)
			}
			if _, isObject := fieldsOf[target]; isObject && len(fieldsOf[target]) > 0 && !reached[target] {
				reached[target] = true
				queue = append(queue, target)
			}
		}
	}
	for _, private := range []string{"CertificationProfile", "AssessmentAttempt", "Notification", "AuditEvent",
		"RenewalStatus", "Renewal", "TranscriptShare", "Account", "LearnProfile", "MergePreview", "AssessmentQuestion"} {
		if reached[private] {
			t.Fatalf("public transcript reaches %s", private)
		}
	}
	for ty := range reached {
		if _, ok := allowed[ty]; !ok {
			t.Fatalf("public transcript reaches %s with no allowed fields listed", ty)
		}
	}
}

type typeRef struct {
	Kind   string
	Name   *string
	OfType *typeRef
}

func (t typeRef) named() string {
	for r := &t; r != nil; r = r.OfType {
		if r.Name != nil {
			return *r.Name
		}
	}
	return ""
}

func TestDeadShareCodesAreAllTheSameNotFound(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	revoked := createShare(t, env, p, nil)
	revokeShare(t, env, p, revoked.ID)
	expiring := createShare(t, env, p, "2021-03-01T10:00:00Z")
	live := createShare(t, env, p, nil)

	var ok publicData
	env.MustDo(apitest.Anonymous, publicQuery, map[string]any{"code": expiring.Code}, &ok)
	env.Clock.Set(time.Date(2021, 3, 1, 10, 0, 0, 0, time.UTC)) // expiresAt is exclusive

	var first string
	for _, code := range []string{revoked.Code, expiring.Code, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", live.Code + "x", ""} {
		r := env.Do(apitest.Anonymous, publicQuery, map[string]any{"code": code})
		if len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
			t.Fatalf("code %q: got %s, want NOT_FOUND", code, r.Raw)
		}
		body := jsonString(map[string]any{"data": r.Data, "message": r.Errors[0].Message, "ext": r.Errors[0].Extensions})
		if first == "" {
			first = body
		} else if body != first {
			t.Fatalf("code %q: got %s, want the same answer as every dead code %s", code, body, first)
		}
	}
	list := shares(t, env, p)
	views := map[string]int{}
	for _, s := range list {
		views[s.ID] = s.ViewCount
	}
	if views[revoked.ID] != 0 || views[expiring.ID] != 1 || views[live.ID] != 0 {
		t.Fatalf("got view counts %v, want only the one successful view counted", views)
	}
}

func TestTranscriptViewsAreCountedAtomically(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	s := createShare(t, env, p, nil)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := env.Do(apitest.Anonymous, publicQuery, map[string]any{"code": s.Code}); len(r.Errors) > 0 {
				errs[i] = string(r.Raw)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatalf("got %s, want the transcript", e)
		}
	}
	if got := shares(t, env, p)[0].ViewCount; got != n {
		t.Fatalf("got viewCount %d, want %d", got, n)
	}
}

func TestDuplicateShareCodesShowTheSurvivorAfterAMerge(t *testing.T) {
	env := apitest.New(t)
	survivor := newProfile(t, env, "alice", "Alice Survivor")
	dup := newProfile(t, env, "alice2", "Alice Duplicate")
	pass(t, env, survivor.MCID, "AZ-104", "2021-02-01T10:00:00Z")
	s := createShare(t, env, dup, nil)
	mergeForTest(t, env, dup.ID, survivor.ID)
	var out publicData
	env.MustDo(apitest.Anonymous, publicQuery, map[string]any{"code": s.Code}, &out)
	if out.Transcript.MCID != survivor.MCID || out.Transcript.LegalName != "Alice Survivor" ||
		len(out.Transcript.Certifications) != 1 {
		t.Fatalf("got %s, want the survivor's transcript", jsonString(out.Transcript))
	}
}
