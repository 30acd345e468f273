package transcript_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

// wantLimit checks an error is LIMIT_EXCEEDED with the documented extensions.
func wantLimit(t *testing.T, e apitest.Error, resource string, limit int) {
	t.Helper()
	if e.Code() != "LIMIT_EXCEEDED" || e.Extensions["resource"] != resource || e.Extensions["limit"] != float64(limit) {
		t.Fatalf("got %+v, want LIMIT_EXCEEDED with resource %s and limit %d", e, resource, limit)
	}
}

// liveShares counts a profile's live shares in the database at the env's clock.
func liveShares(t *testing.T, env *apitest.Env, p profile) int {
	t.Helper()
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM transcript_shares s JOIN certification_profiles p ON p.id = s.profile_id
WHERE p.mcid = $1 AND s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > $2)`, p.MCID, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	return n
}

// Thirty aliased createTranscriptShare mutations in one request (the alias limit) end with the
// default cap of 20 live codes, the other 10 refused with LIMIT_EXCEEDED.
func TestShareCapHoldsForAliasedMutations(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	var b strings.Builder
	b.WriteString("mutation($id: ID!) {")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, " m%d: createTranscriptShare(input: {certificationProfileId: $id}) { share { id } }", i)
	}
	b.WriteString(" }")
	// Mutation fields run one after the other, each in its own transaction; the payloads are
	// non-null, so the refused ones null the whole data, but the 20 created stay created.
	r := env.Do(p.Who, b.String(), map[string]any{"id": p.ID})
	if len(r.Errors) != 10 {
		t.Fatalf("got %d errors, want 10\n%s", len(r.Errors), r.Raw)
	}
	for i, e := range r.Errors {
		wantLimit(t, e, "transcriptShares", 20)
		if want := fmt.Sprintf("m%d", 20+i); len(e.Path) != 1 || e.Path[0] != want {
			t.Fatalf("error %d at %v, want at %s (the 21st and later)", i, e.Path, want)
		}
	}
	if n := liveShares(t, env, p); n != 20 {
		t.Fatalf("got %d live shares stored, want 20", n)
	}
}

// Concurrent requests, each creating one share, never end above the cap: exactly the cap
// succeed and the rest get LIMIT_EXCEEDED (the profile row is locked while counting).
func TestShareCapHoldsUnderConcurrentRequests(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"MAX_LIVE_SHARES_PER_PROFILE": "3"}))
	p := newProfile(t, env, "alice", "Alice Example")
	const n = 10
	codes := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			r := env.Do(p.Who, createShareMutation, map[string]any{"in": map[string]any{"certificationProfileId": p.ID}})
			switch {
			case len(r.Errors) == 0:
				codes[i] = "ok"
			case r.Errors[0].Extensions["resource"] == "transcriptShares" && r.Errors[0].Extensions["limit"] == float64(3):
				codes[i] = r.Errors[0].Code()
			default:
				codes[i] = string(r.Raw)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	count := map[string]int{}
	for _, c := range codes {
		count[c]++
	}
	if count["ok"] != 3 || count["LIMIT_EXCEEDED"] != n-3 {
		t.Fatalf("got %v, want 3 ok and %d LIMIT_EXCEEDED", count, n-3)
	}
	if got := liveShares(t, env, p); got != 3 {
		t.Fatalf("got %d live shares stored, want 3", got)
	}
}

// Only live codes count: revoking one frees a slot, and so does one expiring (the clock moves).
func TestShareCapCountsOnlyLiveCodes(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"MAX_LIVE_SHARES_PER_PROFILE": "2"}))
	p := newProfile(t, env, "alice", "Alice Example")
	in := map[string]any{"in": map[string]any{"certificationProfileId": p.ID}}
	a := createShare(t, env, p, nil)
	createShare(t, env, p, env.Clock.Now().Add(time.Hour).Format(time.RFC3339))
	wantLimit(t, env.MustFail(p.Who, createShareMutation, in, "LIMIT_EXCEEDED"), "transcriptShares", 2)

	revokeShare(t, env, p, a.ID)
	c := createShare(t, env, p, nil)
	wantLimit(t, env.MustFail(p.Who, createShareMutation, in, "LIMIT_EXCEEDED"), "transcriptShares", 2)

	env.Clock.Advance(time.Hour) // the second share expires now: expired at its expiresAt
	d := createShare(t, env, p, nil)
	wantLimit(t, env.MustFail(p.Who, createShareMutation, in, "LIMIT_EXCEEDED"), "transcriptShares", 2)

	// The list is bounded too (twice the cap), live codes first, newest first.
	revokeShare(t, env, p, c.ID)
	e := createShare(t, env, p, nil)
	env.Clock.Advance(time.Minute)
	revokeShare(t, env, p, d.ID)
	createShare(t, env, p, nil)
	list := shares(t, env, p)
	if len(list) != 4 {
		t.Fatalf("got %d listed shares, want 4 (twice the cap of 2) of the 6 stored", len(list))
	}
	if list[0].RevokedAt != nil || list[1].ID != e.ID || list[2].RevokedAt == nil || list[2].ID != d.ID {
		t.Fatalf("got %+v, want the two live codes first (newest first), then the latest revoked", list)
	}
}

// The anonymous transcript lists at most MaxPublicItems (100) exam results, the latest: the
// bound the cost model prices it by.
func TestPublicTranscriptListsAreBounded(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	if _, err := env.DB.Exec(`INSERT INTO exam_results (profile_id, exam_code, passed, score, taken_at, external_id, recorded_at)
SELECT p.id, (SELECT code FROM exams ORDER BY code LIMIT 1), true, 800, $2::timestamptz - g * interval '1 day', 'bulk-' || g, $2
FROM certification_profiles p, generate_series(1, 101) g WHERE p.mcid = $1`, p.MCID, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	s := createShare(t, env, p, nil)
	var out publicData
	env.MustDo(apitest.Anonymous, publicQuery, map[string]any{"code": s.Code}, &out)
	got := out.Transcript.ExamResults
	latest := env.Clock.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	if len(got) != 100 || got[0].TakenAt != latest {
		t.Fatalf("got %d exam results, the first taken %v; want the latest 100 of 101, from %s", len(got), got[0].TakenAt, latest)
	}
}
