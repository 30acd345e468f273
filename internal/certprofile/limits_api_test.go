package certprofile_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

func newProfileInput(i int) map[string]any {
	return map[string]any{"in": map[string]any{"legalName": fmt.Sprintf("Ada Lovelace %d", i), "email": "ada@example.com"}}
}

func wantProfileLimit(t *testing.T, e apitest.Error, limit int) {
	t.Helper()
	if e.Code() != "LIMIT_EXCEEDED" || e.Extensions["resource"] != "certificationProfiles" || e.Extensions["limit"] != float64(limit) {
		t.Fatalf("got %+v, want LIMIT_EXCEEDED with resource certificationProfiles and limit %d", e, limit)
	}
}

func storedProfiles(t *testing.T, env *apitest.Env, sub string) int {
	t.Helper()
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM certification_profiles p JOIN accounts a ON a.id = p.account_id
WHERE a.subject = $1`, sub); err != nil {
		t.Fatal(err)
	}
	return n
}

// Concurrent creates by one account, starting from no profile at all (so no profile row to
// lock), end with exactly the cap: the account row is locked while its profiles are counted.
func TestProfileCapHoldsUnderConcurrentRequests(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"MAX_PROFILES_PER_ACCOUNT": "2"}))
	ada := apitest.Learner("ada")
	env.MustDo(ada, `{ viewer { account { id } } }`, nil, nil) // the account exists, with no profile
	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			r := env.Do(ada, createMutation, newProfileInput(i))
			switch {
			case len(r.Errors) == 0:
				got[i] = "ok"
			case r.Errors[0].Extensions["resource"] == "certificationProfiles" && r.Errors[0].Extensions["limit"] == float64(2):
				got[i] = r.Errors[0].Code()
			default:
				got[i] = string(r.Raw)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	count := map[string]int{}
	for _, c := range got {
		count[c]++
	}
	if count["ok"] != 2 || count["LIMIT_EXCEEDED"] != n-2 {
		t.Fatalf("got %v, want 2 ok and %d LIMIT_EXCEEDED", count, n-2)
	}
	if s := storedProfiles(t, env, "ada"); s != 2 {
		t.Fatalf("got %d profiles stored, want 2", s)
	}
}

// Thirty aliased creates in one request (the alias limit) stop at the default cap of 5.
func TestProfileCapHoldsForAliasedMutations(t *testing.T) {
	env := apitest.New(t)
	var b strings.Builder
	b.WriteString("mutation {")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, ` m%d: createCertificationProfile(input: {legalName: "Ada %d", email: "ada@example.com"}) { certificationProfile { id } }`, i, i)
	}
	b.WriteString(" }")
	r := env.Do(apitest.Learner("ada"), b.String(), nil)
	if len(r.Errors) != 25 {
		t.Fatalf("got %d errors, want 25\n%s", len(r.Errors), r.Raw)
	}
	for i, e := range r.Errors {
		wantProfileLimit(t, e, 5)
		if want := fmt.Sprintf("m%d", 5+i); len(e.Path) != 1 || e.Path[0] != want {
			t.Fatalf("error %d at %v, want at %s", i, e.Path, want)
		}
	}
	if s := storedProfiles(t, env, "ada"); s != 5 {
		t.Fatalf("got %d profiles stored, want 5", s)
	}
}

// A merged duplicate still counts (it stays the account's and stays listed), and
// viewer.certificationProfiles never lists more than the cap, even for an account that holds
// more from before the cap existed.
func TestProfileCapCountsMergedProfilesAndBoundsTheViewerList(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"MAX_PROFILES_PER_ACCOUNT": "2"}))
	ada := apitest.Learner("ada")
	var a, b struct {
		CreateCertificationProfile struct{ CertificationProfile struct{ ID string } }
	}
	env.MustDo(ada, createMutation, newProfileInput(1), &a)
	env.MustDo(ada, createMutation, newProfileInput(2), &b)
	wantProfileLimit(t, env.MustFail(ada, createMutation, newProfileInput(3), "LIMIT_EXCEEDED"), 2)

	env.MustDo(apitest.Support("agent"), `mutation($in: MergeCertificationProfilesInput!) {
  mergeCertificationProfiles(input: $in) { duplicate { status } } }`, map[string]any{"in": map[string]any{
		"survivorId": a.CreateCertificationProfile.CertificationProfile.ID, "duplicateId": b.CreateCertificationProfile.CertificationProfile.ID,
		"reason": "registered twice", "idempotencyKey": "k-1"}}, nil)
	wantProfileLimit(t, env.MustFail(ada, createMutation, newProfileInput(3), "LIMIT_EXCEEDED"), 2)

	// An account over the cap from before it existed: its list is cut to the cap.
	if _, err := env.DB.Exec(`INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
SELECT account_id, 'Ada Legacy', email, created_at FROM certification_profiles ORDER BY created_at LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Viewer struct{ CertificationProfiles []struct{ ID string } }
	}
	env.MustDo(ada, `{ viewer { certificationProfiles { id } } }`, nil, &v)
	if n := len(v.Viewer.CertificationProfiles); n != 2 || storedProfiles(t, env, "ada") != 3 {
		t.Fatalf("got %d listed profiles, want the cap of 2 (3 stored)", n)
	}
}
