package transcript_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

func TestRecordExamResultEarnsTheCertification(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	got := record(t, env, resultInput(p.MCID, "AZ-104", "2021-02-15T10:30:00Z", "pearson-1"))
	r := got.ExamResult
	if r.Exam.Code != "AZ-104" || !r.Passed || r.Score == nil || *r.Score != 800 || r.TakenAt != "2021-02-15T10:30:00Z" || r.ExternalID != "pearson-1" {
		t.Fatalf("got result %+v, want AZ-104 passed 800 at 2021-02-15T10:30:00Z pearson-1", r)
	}
	if len(got.EarnedCertifications) != 1 {
		t.Fatalf("got earned %v, want one", jsonString(got.EarnedCertifications))
	}
	e := got.EarnedCertifications[0]
	if e.Certification.Code != "azure-administrator-associate" || e.EarnedOn != "2021-02-15" || e.ExpiresOn == nil || *e.ExpiresOn != "2022-02-15" || e.Status != "ACTIVE" {
		t.Fatalf("got %s, want azure-administrator-associate 2021-02-15..2022-02-15 ACTIVE", jsonString(e))
	}
	h := history(t, env, p.Who, p.ID)
	if h.Node.Certifications.TotalCount != 1 || h.Node.ExamResults.TotalCount != 1 || h.Node.Certifications.Nodes[0].ID != e.ID {
		t.Fatalf("got history %s, want the one result and the one earned certification", jsonString(h))
	}
}

func TestRecordExamResultNeedsExamDeliveryOrAdmin(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	in := func(id string) map[string]any {
		return map[string]any{"in": resultInput(p.MCID, "AZ-900", "2021-02-01T09:00:00Z", id)}
	}
	env.MustFail(apitest.Anonymous, recordMutation, in("x1"), "UNAUTHENTICATED")
	env.MustFail(p.Who, recordMutation, in("x2"), "FORBIDDEN")
	env.MustFail(apitest.Support("agent"), recordMutation, in("x3"), "FORBIDDEN")
	env.MustFail(apitest.Work("bob"), recordMutation, in("x4"), "FORBIDDEN")
	var out struct{ RecordExamResult recorded }
	env.MustDo(apitest.Admin("root"), recordMutation, in("x5"), &out)
	if got := codes(out.RecordExamResult.EarnedCertifications); !slices.Equal(got, []string{"azure-fundamentals"}) {
		t.Fatalf("admin: got %v, want [azure-fundamentals]", got)
	}
	if h := history(t, env, p.Who, p.ID); h.Node.ExamResults.TotalCount != 1 {
		t.Fatalf("got %d results, want only the admin's", h.Node.ExamResults.TotalCount)
	}
}

func TestRecordExamResultRefusesBadInput(t *testing.T) {
	env := apitest.New(t) // clock at 2021-03-01T09:00:00Z
	p := newProfile(t, env, "alice", "Alice Example")
	ok := func() map[string]any { return resultInput(p.MCID, "AZ-104", "2021-02-15T10:00:00Z", "ext-bad") }
	with := func(k string, v any) map[string]any {
		in := ok()
		in[k] = v
		return map[string]any{"in": in}
	}
	cases := []struct {
		name  string
		vars  map[string]any
		field string
	}{
		{"takenAt one second in the future", with("takenAt", "2021-03-01T09:00:01Z"), "takenAt"},
		{"takenAt next year", with("takenAt", "2022-01-01T00:00:00Z"), "takenAt"},
		{"unknown exam code", with("examCode", "AZ-999"), "examCode"},
		{"unknown MCID", with("mcid", "123456789"), "mcid"},
		{"MCID that is not a number", with("mcid", "12ab"), "mcid"},
		{"empty externalId", with("externalId", ""), "externalId"},
		{"blank externalId", with("externalId", "   "), "externalId"},
		{"score over 1000", with("score", 1001), "score"},
		{"negative score", with("score", -1), "score"},
		{"bad language tag", with("language", "not a language!"), "language"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := env.MustFail(apitest.ExamDelivery(), recordMutation, c.vars, "BAD_USER_INPUT")
			if got := e.Extensions["field"]; got != c.field {
				t.Fatalf("got field %v, want %s", got, c.field)
			}
		})
	}
	env.MustFail(apitest.ExamDelivery(), recordMutation, with("takenAt", "yesterday"), "BAD_USER_INPUT")
	if h := history(t, env, p.Who, p.ID); h.Node.ExamResults.TotalCount != 0 || h.Node.Certifications.TotalCount != 0 {
		t.Fatalf("got %s, want nothing recorded", jsonString(h))
	}
	// takenAt equal to now is not in the future.
	got := record(t, env, resultInput(p.MCID, "AZ-104", "2021-03-01T09:00:00Z", "ext-now"))
	if len(got.EarnedCertifications) != 1 {
		t.Fatalf("takenAt = now: got %s, want earned", jsonString(got))
	}
}

func TestRecordExamResultReplayReturnsTheFirstResult(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	first := record(t, env, resultInput(p.MCID, "AZ-104", "2021-02-15T10:00:00Z", "pearson-42"))
	again := record(t, env, resultInput(p.MCID, "AZ-104", "2021-02-15T10:00:00Z", "pearson-42"))
	if jsonString(again) != jsonString(first) {
		t.Fatalf("replay: got %s, want the first response %s", jsonString(again), jsonString(first))
	}
	// A replay whose fields differ still returns the first result and changes nothing
	// (documented on transcript.Service.RecordResult).
	other := newProfile(t, env, "bob", "Bob Example")
	differs := map[string]any{"mcid": other.MCID, "examCode": "AZ-900", "passed": false, "score": 10,
		"takenAt": "2021-01-01T00:00:00Z", "externalId": "pearson-42"}
	if got := record(t, env, differs); jsonString(got) != jsonString(first) {
		t.Fatalf("replay with other fields: got %s, want the first response %s", jsonString(got), jsonString(first))
	}
	h := history(t, env, p.Who, p.ID)
	if h.Node.ExamResults.TotalCount != 1 || h.Node.Certifications.TotalCount != 1 {
		t.Fatalf("got %s, want one result and one certification", jsonString(h))
	}
	if h := history(t, env, other.Who, other.ID); h.Node.ExamResults.TotalCount != 0 {
		t.Fatalf("got %s, want nothing on the replay's profile", jsonString(h))
	}
}

func TestRecordExamResultConcurrentReplaysCreateOneResult(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	q := newProfile(t, env, "bob", "Bob Example")
	const n = 12
	responses := make([]apitest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		mcid := p.MCID
		if i%3 == 2 { // some replays even name another profile: still one result
			mcid = q.MCID
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			responses[i] = env.Do(apitest.ExamDelivery(), recordMutation,
				map[string]any{"in": resultInput(mcid, "AZ-104", "2021-02-15T10:00:00Z", "race-1")})
		}()
	}
	close(start)
	wg.Wait()
	ids := map[string]bool{}
	for i, r := range responses {
		if len(r.Errors) > 0 {
			t.Fatalf("request %d: got errors %s, want none", i, r.Raw)
		}
		var out struct{ RecordExamResult recorded }
		if err := jsonUnmarshal(r.Data, &out); err != nil {
			t.Fatal(err)
		}
		ids[out.RecordExamResult.ExamResult.ID] = true
		if got := codes(out.RecordExamResult.EarnedCertifications); len(got) != 1 {
			t.Fatalf("request %d: got earned %v, want the first result's one certification", i, got)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("got %d distinct results, want 1", len(ids))
	}
	var results, certs int
	if err := env.DB.Get(&results, `SELECT count(*) FROM exam_results WHERE external_id = 'race-1'`); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Get(&certs, `SELECT count(*) FROM earned_certifications`); err != nil {
		t.Fatal(err)
	}
	if results != 1 || certs != 1 {
		t.Fatalf("got %d results and %d earned certifications, want 1 and 1", results, certs)
	}
}

// TestConcurrentResultsForOneProfileSerialize shows the profile lock: two exams of one path
// recorded at once earn the certification once (without the lock each transaction misses
// the other's pass and nothing is earned), and two alternative paths at once earn one record.
func TestConcurrentResultsForOneProfileSerialize(t *testing.T) {
	env := apitest.New(t)
	for round := range 40 {
		p := newProfile(t, env, fmt.Sprintf("learner-%d", round), "Race Example")
		var wg sync.WaitGroup
		start := make(chan struct{})
		inputs := []map[string]any{
			resultInput(p.MCID, "DP-200", "2021-02-10T09:00:00Z", fmt.Sprintf("dp200-%d", round)),
			resultInput(p.MCID, "DP-201", "2021-02-10T11:00:00Z", fmt.Sprintf("dp201-%d", round)),
			// AZ-103 retired on 2020-08-31 (shipped catalog): both paths are passed before that.
			resultInput(p.MCID, "AZ-104", "2020-08-11T09:00:00Z", fmt.Sprintf("az104-%d", round)),
			resultInput(p.MCID, "AZ-103", "2020-08-11T09:00:00Z", fmt.Sprintf("az103-%d", round)),
		}
		for _, in := range inputs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if r := env.Do(apitest.ExamDelivery(), recordMutation, map[string]any{"in": in}); len(r.Errors) > 0 {
					t.Errorf("got errors %s, want none", r.Raw)
				}
			}()
		}
		close(start)
		wg.Wait()
		h := history(t, env, p.Who, p.ID)
		got := codes(h.Node.Certifications.Nodes)
		slices.Sort(got)
		if want := []string{"azure-administrator-associate", "azure-data-engineer-associate"}; !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
	}
}

func TestRecordExamResultOnAMergedMCIDLandsOnTheSurvivor(t *testing.T) {
	env := apitest.New(t)
	survivor := newProfile(t, env, "alice", "Alice Example")
	dup := newProfile(t, env, "alice2", "Alice Example")
	mergeForTest(t, env, dup.ID, survivor.ID)
	got := record(t, env, resultInput(dup.MCID, "AZ-104", "2021-02-15T10:00:00Z", "merged-1"))
	if len(got.EarnedCertifications) != 1 {
		t.Fatalf("got %s, want the certification earned", jsonString(got))
	}
	h := history(t, env, survivor.Who, survivor.ID)
	if h.Node.ExamResults.TotalCount != 1 || h.Node.Certifications.TotalCount != 1 {
		t.Fatalf("survivor: got %s, want the result and certification", jsonString(h))
	}
	h = history(t, env, dup.Who, dup.ID)
	if h.Node.ExamResults.TotalCount != 0 {
		t.Fatalf("duplicate: got %s, want nothing", jsonString(h))
	}
}

func TestFailedExamIsHistoryOnly(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	in := resultInput(p.MCID, "AZ-104", "2021-02-15T10:00:00Z", "fail-1")
	in["passed"], in["score"] = false, 550
	if got := record(t, env, in); len(got.EarnedCertifications) != 0 || got.ExamResult.Passed {
		t.Fatalf("got %s, want a failed result earning nothing", jsonString(got))
	}
	h := history(t, env, p.Who, p.ID)
	if h.Node.ExamResults.TotalCount != 1 || h.Node.Certifications.TotalCount != 0 {
		t.Fatalf("got %s, want one failed result and no certification", jsonString(h))
	}
}

func TestEarningRulesThroughTheAPI(t *testing.T) {
	env := apitest.New(t)
	t.Run("a pass while held changes nothing but history", func(t *testing.T) {
		p := newProfile(t, env, "held", "Held Example")
		pass(t, env, p.MCID, "AZ-103", "2020-08-31T09:00:00Z")
		if got := pass(t, env, p.MCID, "AZ-104", "2021-02-01T09:00:00Z"); len(got.EarnedCertifications) != 0 {
			t.Fatalf("AZ-104 after AZ-103: got %v, want nothing", codes(got.EarnedCertifications))
		}
		if got := pass(t, env, p.MCID, "AZ-104", "2021-02-20T09:00:00Z"); len(got.EarnedCertifications) != 0 {
			t.Fatalf("retake: got %v, want nothing", codes(got.EarnedCertifications))
		}
		h := history(t, env, p.Who, p.ID)
		if h.Node.ExamResults.TotalCount != 3 || h.Node.Certifications.TotalCount != 1 ||
			*h.Node.Certifications.Nodes[0].ExpiresOn != "2021-08-31" {
			t.Fatalf("got %s, want 3 results and the one record, expiry unchanged", jsonString(h))
		}
	})
	t.Run("after expiry a pass earns a new record and the old one stays", func(t *testing.T) {
		p := newProfile(t, env, "again", "Again Example")
		pass(t, env, p.MCID, "AZ-104", "2020-01-10T09:00:00Z")
		got := pass(t, env, p.MCID, "AZ-104", "2021-02-01T09:00:00Z")
		if len(got.EarnedCertifications) != 1 || got.EarnedCertifications[0].EarnedOn != "2021-02-01" {
			t.Fatalf("got %s, want a new record on 2021-02-01", jsonString(got.EarnedCertifications))
		}
		h := history(t, env, p.Who, p.ID)
		var states []string
		for _, e := range h.Node.Certifications.Nodes {
			states = append(states, e.EarnedOn+" "+e.Status)
		}
		if want := []string{"2021-02-01 ACTIVE", "2020-01-10 EXPIRED"}; !slices.Equal(states, want) {
			t.Fatalf("got %v, want %v", states, want)
		}
	})
	t.Run("an expert needs its prerequisite held on the day", func(t *testing.T) {
		p := newProfile(t, env, "expert", "Expert Example")
		if got := pass(t, env, p.MCID, "AZ-400", "2021-01-05T09:00:00Z"); len(got.EarnedCertifications) != 0 {
			t.Fatalf("AZ-400 alone: got %v, want nothing", codes(got.EarnedCertifications))
		}
		pass(t, env, p.MCID, "AZ-204", "2021-01-20T09:00:00Z")
		got := pass(t, env, p.MCID, "AZ-400", "2021-02-01T09:00:00Z")
		if c := codes(got.EarnedCertifications); !slices.Equal(c, []string{"devops-engineer-expert"}) {
			t.Fatalf("got %v, want [devops-engineer-expert]", c)
		}
	})
	t.Run("an expert passed the day its associate is earned counts, whatever the arrival order", func(t *testing.T) {
		p := newProfile(t, env, "sameday", "Same Day Example")
		pass(t, env, p.MCID, "AZ-400", "2021-02-01T15:00:00Z")
		got := pass(t, env, p.MCID, "AZ-104", "2021-02-01T08:00:00Z")
		var days []string
		for _, e := range got.EarnedCertifications {
			days = append(days, e.Certification.Code+" "+e.EarnedOn)
		}
		if want := []string{"azure-administrator-associate 2021-02-01", "devops-engineer-expert 2021-02-01"}; !slices.Equal(days, want) {
			t.Fatalf("got %v, want %v", days, want)
		}
	})
	t.Run("a late first exam of a two-exam path earns on the second pass's day", func(t *testing.T) {
		p := newProfile(t, env, "late", "Late Example")
		pass(t, env, p.MCID, "DP-201", "2021-02-10T09:00:00Z")
		got := pass(t, env, p.MCID, "DP-200", "2021-01-05T09:00:00Z")
		if len(got.EarnedCertifications) != 1 || got.EarnedCertifications[0].EarnedOn != "2021-02-10" ||
			*got.EarnedCertifications[0].ExpiresOn != "2022-02-10" {
			t.Fatalf("got %s, want azure-data-engineer-associate 2021-02-10..2022-02-10", jsonString(got.EarnedCertifications))
		}
	})
	t.Run("a late pass never moves an existing record", func(t *testing.T) {
		p := newProfile(t, env, "moved", "Moved Example")
		pass(t, env, p.MCID, "DP-200", "2021-01-05T09:00:00Z")
		pass(t, env, p.MCID, "DP-201", "2021-02-10T09:00:00Z")
		if got := pass(t, env, p.MCID, "DP-201", "2021-01-20T09:00:00Z"); len(got.EarnedCertifications) != 0 {
			t.Fatalf("got %s, want nothing", jsonString(got.EarnedCertifications))
		}
		h := history(t, env, p.Who, p.ID)
		if h.Node.Certifications.TotalCount != 1 || h.Node.Certifications.Nodes[0].EarnedOn != "2021-02-10" {
			t.Fatalf("got %s, want the record of 2021-02-10 unchanged", jsonString(h.Node.Certifications))
		}
	})
	t.Run("fundamentals never expire", func(t *testing.T) {
		p := newProfile(t, env, "fund", "Fund Example")
		got := pass(t, env, p.MCID, "AZ-900", "2021-02-01T09:00:00Z")
		if len(got.EarnedCertifications) != 1 || got.EarnedCertifications[0].ExpiresOn != nil {
			t.Fatalf("got %s, want azure-fundamentals with no expiry", jsonString(got.EarnedCertifications))
		}
		env.Clock.Set(time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC))
		defer env.Clock.Set(apitest.Start)
		if h := history(t, env, p.Who, p.ID); h.Node.Certifications.Nodes[0].Status != "ACTIVE" {
			t.Fatalf("in 2035: got %s, want ACTIVE", h.Node.Certifications.Nodes[0].Status)
		}
	})
	t.Run("earned on 29 Feb expires on 28 Feb", func(t *testing.T) {
		p := newProfile(t, env, "leap", "Leap Example")
		env.Clock.Set(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
		defer env.Clock.Set(apitest.Start)
		got := pass(t, env, p.MCID, "AZ-104", "2024-02-29T23:30:00Z")
		if len(got.EarnedCertifications) != 1 || *got.EarnedCertifications[0].ExpiresOn != "2025-02-28" {
			t.Fatalf("got %s, want expiry 2025-02-28", jsonString(got.EarnedCertifications))
		}
	})
	t.Run("the earning day is the UTC date of takenAt", func(t *testing.T) {
		p := newProfile(t, env, "utc", "UTC Example")
		got := pass(t, env, p.MCID, "AZ-104", "2021-02-01T23:30:00-05:00") // 2021-02-02T04:30Z
		if len(got.EarnedCertifications) != 1 || got.EarnedCertifications[0].EarnedOn != "2021-02-02" {
			t.Fatalf("got %s, want earned on 2021-02-02", jsonString(got.EarnedCertifications))
		}
	})
}

// mergeForTest marks dup merged into survivor the way a support merge leaves it (the merge
// itself is another issue); only the profile rows change.
func mergeForTest(t *testing.T, env *apitest.Env, dupID, survivorID string) {
	t.Helper()
	dup, surv := uuidOf(t, dupID), uuidOf(t, survivorID)
	if _, err := env.DB.Exec(`UPDATE certification_profiles SET status = 'MERGED', merged_into = $2, merged_at = $3 WHERE id = $1`,
		dup, surv, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestReplayReturnsEverythingTheFirstEarned(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "alice", "Alice Example")
	pass(t, env, p.MCID, "AZ-400", "2021-02-01T15:00:00Z")
	in := resultInput(p.MCID, "AZ-204", "2021-02-01T08:00:00Z", "two-at-once")
	first := record(t, env, in)
	if got := codes(first.EarnedCertifications); !slices.Equal(got, []string{"azure-developer-associate", "devops-engineer-expert"}) {
		t.Fatalf("got %v, want the associate and the expert", got)
	}
	// Time passes and the first records' status changes; the replay still names the same records.
	env.Clock.Set(time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC))
	again := record(t, env, in)
	if again.ExamResult.ID != first.ExamResult.ID || len(again.EarnedCertifications) != 2 ||
		again.EarnedCertifications[0].ID != first.EarnedCertifications[0].ID || again.EarnedCertifications[1].ID != first.EarnedCertifications[1].ID {
		t.Fatalf("got %s, want the first result's records %s", jsonString(again), jsonString(first))
	}
	if again.EarnedCertifications[0].Status != "EXPIRED" {
		t.Fatalf("got status %s, want EXPIRED in 2022", again.EarnedCertifications[0].Status)
	}
}
