package idem_test

import (
	"bytes"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

// keyed is a creating mutation that takes an idempotencyKey, as the API tests drive it.
type keyed struct {
	name  string
	query string // takes $in, the mutation's input
	// caller is the identity number i of the kind that may call the mutation.
	caller func(i int) apitest.Identity
	// input builds a request of the caller (creating what it needs, such as a profile).
	input func(t *testing.T, env *apitest.Env, who apitest.Identity) map[string]any
	// other changes the request (same key, another request).
	other func(t *testing.T, env *apitest.Env, who apitest.Identity, in map[string]any)
	// rows counts what the mutation writes.
	rows string
}

const newProfile = `mutation($in: CreateCertificationProfileInput!) {
  createCertificationProfile(input: $in) { certificationProfile { id mcid legalName email } } }`

func learnerN(i int) apitest.Identity { return apitest.Learner([]string{"alice", "bob", "carol"}[i]) }
func adminN(i int) apitest.Identity   { return apitest.Admin([]string{"root", "ops", "dev"}[i]) }

// profileOf creates a profile of who (without a key) and returns its id.
func profileOf(t *testing.T, env *apitest.Env, who apitest.Identity) string {
	t.Helper()
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile struct{ ID string } }
	}
	env.MustDo(who, newProfile, map[string]any{"in": map[string]any{
		"legalName": "Pat " + who.Subject, "email": who.Subject + "@contact.example"}}, &out)
	return out.CreateCertificationProfile.CertificationProfile.ID
}

var mutations = []keyed{
	{
		name: "createCertificationProfile", query: newProfile, caller: learnerN,
		input: func(t *testing.T, env *apitest.Env, who apitest.Identity) map[string]any {
			return map[string]any{"legalName": "Pat Example", "email": "pat@contact.example"}
		},
		other: func(t *testing.T, env *apitest.Env, who apitest.Identity, in map[string]any) {
			in["legalName"] = "Pat Other"
		},
		rows: `SELECT count(*) FROM certification_profiles`,
	},
	{
		name: "createTranscriptShare", caller: learnerN,
		query: `mutation($in: CreateTranscriptShareInput!) {
  createTranscriptShare(input: $in) { share { id code createdAt expiresAt } } }`,
		input: func(t *testing.T, env *apitest.Env, who apitest.Identity) map[string]any {
			return map[string]any{"certificationProfileId": profileOf(t, env, who)}
		},
		other: func(t *testing.T, env *apitest.Env, who apitest.Identity, in map[string]any) {
			in["expiresAt"] = "2100-01-01T00:00:00Z"
		},
		rows: `SELECT count(*) FROM transcript_shares`,
	},
	{
		name: "createCalendarFeed", caller: learnerN,
		query: `mutation($in: CreateCalendarFeedInput!) {
  createCalendarFeed(input: $in) { calendarFeed { id url createdAt } } }`,
		input: func(t *testing.T, env *apitest.Env, who apitest.Identity) map[string]any {
			return map[string]any{"certificationProfileId": profileOf(t, env, who)}
		},
		other: func(t *testing.T, env *apitest.Env, who apitest.Identity, in map[string]any) {
			in["certificationProfileId"] = profileOf(t, env, who)
		},
		rows: `SELECT count(*) FROM calendar_feeds`,
	},
	{
		name: "publishRenewalAssessment", caller: adminN,
		query: `mutation($in: PublishRenewalAssessmentInput!) {
  publishRenewalAssessment(input: $in) { renewalAssessment { id version passingScore } } }`,
		input: func(t *testing.T, env *apitest.Env, who apitest.Identity) map[string]any {
			return map[string]any{"certificationCode": "azure-administrator-associate", "questions": []any{
				map[string]any{"prompt": "Which region pair?", "choices": []any{
					map[string]any{"text": "paired", "correct": true}, map[string]any{"text": "any", "correct": false}}}}}
		},
		other: func(t *testing.T, env *apitest.Env, who apitest.Identity, in map[string]any) { in["passingScore"] = 80 },
		rows:  `SELECT count(*) FROM assessment_versions`,
	},
	{
		name: "createWebhookEndpoint", caller: adminN,
		query: `mutation($in: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $in) { webhookEndpoint { id url events createdAt } secret } }`,
		input: func(t *testing.T, env *apitest.Env, who apitest.Identity) map[string]any {
			return map[string]any{"url": "https://hooks.example/" + who.Subject, "events": []any{"CERTIFICATION_EARNED"}}
		},
		other: func(t *testing.T, env *apitest.Env, who apitest.Identity, in map[string]any) {
			in["description"] = "another"
		},
		rows: `SELECT count(*) FROM webhook_endpoints`,
	},
}

func count(t *testing.T, env *apitest.Env, q string) int {
	t.Helper()
	var n int
	if err := env.DB.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

func with(in map[string]any, key string) map[string]any {
	out := maps.Clone(in)
	out["idempotencyKey"] = key
	return out
}

// do runs the mutation and returns its data, failing on any error.
func do(t *testing.T, env *apitest.Env, m keyed, who apitest.Identity, in map[string]any) []byte {
	t.Helper()
	r := env.Do(who, m.query, map[string]any{"in": in})
	if len(r.Errors) > 0 {
		t.Fatalf("%s: got errors %s, want none", m.name, r.Raw)
	}
	return r.Data
}

// A repeat with the same key and request answers exactly the first answer (ids, codes, the
// feed's secret URL, the webhook secret) and writes nothing; without a key each request
// writes, as before.
func TestAPIRepeatWithTheSameKeyReturnsTheFirstResult(t *testing.T) {
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			env := apitest.New(t)
			who := m.caller(0)
			in := m.input(t, env, who)
			before := count(t, env, m.rows)
			first := do(t, env, m, who, with(in, "retry-1"))
			env.Clock.Advance(time.Minute)
			again := do(t, env, m, who, with(in, "retry-1"))
			if !bytes.Equal(first, again) {
				t.Fatalf("got %s, want the first answer %s", again, first)
			}
			if got := count(t, env, m.rows) - before; got != 1 {
				t.Fatalf("got %d rows written, want 1", got)
			}
			do(t, env, m, who, in)
			if got := count(t, env, m.rows) - before; got != 2 {
				t.Fatalf("without a key: got %d rows written, want 2", got)
			}
		})
	}
}

func TestAPISameKeyForAnotherRequestIsRefused(t *testing.T) {
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			env := apitest.New(t)
			who := m.caller(0)
			in := m.input(t, env, who)
			do(t, env, m, who, with(in, "retry-1"))
			before := count(t, env, m.rows)
			changed := with(in, "retry-1")
			m.other(t, env, who, changed)
			env.MustFail(who, m.query, map[string]any{"in": changed}, "IDEMPOTENCY_KEY_REUSED")
			if got := count(t, env, m.rows); got != before {
				t.Fatalf("got %d rows, want %d (nothing written)", got, before)
			}
		})
	}
}

// Another caller's key is never theirs: the same key from someone else makes their own result.
func TestAPIKeysAreEachCallersOwn(t *testing.T) {
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			env := apitest.New(t)
			a, b := m.caller(0), m.caller(1)
			inA, inB := m.input(t, env, a), m.input(t, env, b)
			before := count(t, env, m.rows)
			first := do(t, env, m, a, with(inA, "shared-key"))
			other := do(t, env, m, b, with(inB, "shared-key"))
			if bytes.Equal(first, other) {
				t.Fatalf("got %s for both callers, want each their own result", first)
			}
			if got := count(t, env, m.rows) - before; got != 2 {
				t.Fatalf("got %d rows written, want 2", got)
			}
		})
	}
}

// The same request with the same key sent twice at once writes once and both get the same
// answer: the second waits for the first's key and then replays it.
func TestAPIConcurrentPairWritesOnce(t *testing.T) {
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			env := apitest.New(t)
			who := m.caller(0)
			in := with(m.input(t, env, who), "pair-1")
			before := count(t, env, m.rows)
			var answers [2]apitest.Response
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					answers[i] = env.Do(who, m.query, map[string]any{"in": in})
				}()
			}
			close(start)
			wg.Wait()
			for _, r := range answers {
				if len(r.Errors) > 0 {
					t.Fatalf("got errors %s, want none", r.Raw)
				}
			}
			if !bytes.Equal(answers[0].Data, answers[1].Data) {
				t.Fatalf("got %s and %s, want the same answer", answers[0].Data, answers[1].Data)
			}
			if got := count(t, env, m.rows) - before; got != 1 {
				t.Fatalf("got %d rows written, want 1", got)
			}
		})
	}
}
