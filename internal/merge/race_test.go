package merge_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/merge"
)

// outcome is one concurrent request's result: the payload or the error code.
type outcome struct {
	out  mergeOut
	code string
	err  error
}

// concurrently runs the merge inputs at once (released together) and returns their outcomes.
func concurrently(t *testing.T, env *apitest.Env, token string, inputs []map[string]any) []outcome {
	t.Helper()
	h := env.Server.Handler()
	start := make(chan struct{})
	res := make([]outcome, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := post(h, token, mergeMutation, in)
			switch {
			case err != nil:
				res[i].err = err
			case len(r.Errors) > 0:
				res[i].code = r.Errors[0].Code()
				if res[i].code == "" || res[i].code == "INTERNAL" {
					res[i].err = fmt.Errorf("got %s", r.Raw)
				}
			default:
				res[i].err = jsonInto(r.Data, &res[i].out)
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, o := range res {
		if o.err != nil {
			t.Fatalf("request %d: %v", i, o.err)
		}
	}
	return res
}

func TestRaceOppositeMergesNeverDeadlock(t *testing.T) {
	env := apitest.New(t)
	token := env.Token(agent)
	before := tableCounts(t, env.DB)
	for round := range 20 {
		a, b := newProfile(t, env, "Race A"), newProfile(t, env, "Race B")
		addEarned(t, env, a, "azure-developer-associate", "2020-10-15", "2021-10-15")
		addEarned(t, env, b, "azure-security-engineer-associate", "2020-11-30", "2021-11-30")
		addResult(t, env, a, "AZ-204", true)
		addResult(t, env, b, "AZ-500", true)
		addShare(t, env, a)
		addShare(t, env, b)
		wantAll := sum(profileCounts(t, env.DB, a.ID), profileCounts(t, env.DB, b.ID))

		res := concurrently(t, env, token, []map[string]any{
			mergeInput(a, b, fmt.Sprintf("r%d-ab", round), nil),
			mergeInput(b, a, fmt.Sprintf("r%d-ba", round), nil),
		})
		ok, refused := 0, 0
		var survivor, duplicate prof
		for i, o := range res {
			switch o.code {
			case "":
				ok++
				survivor, duplicate = a, b
				if i == 1 {
					survivor, duplicate = b, a
				}
			case "PROFILE_ALREADY_MERGED":
				refused++
			default:
				t.Fatalf("round %d: got code %s, want success or PROFILE_ALREADY_MERGED", round, o.code)
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("round %d: got %d merges and %d refusals, want 1 and 1", round, ok, refused)
		}
		// Final state: one merged into the other, no cycle, every row on the survivor.
		var st []struct {
			ID         uuid.UUID  `db:"id"`
			Status     string     `db:"status"`
			MergedInto *uuid.UUID `db:"merged_into"`
		}
		if err := env.DB.Select(&st, `SELECT id, status, merged_into FROM certification_profiles WHERE id = ANY($1::uuid[])`,
			"{"+a.ID.String()+","+b.ID.String()+"}"); err != nil {
			t.Fatal(err)
		}
		for _, p := range st {
			switch p.ID {
			case survivor.ID:
				if p.Status != "ACTIVE" || p.MergedInto != nil {
					t.Fatalf("round %d: got survivor %+v, want ACTIVE and not merged", round, p)
				}
			case duplicate.ID:
				if p.Status != "MERGED" || p.MergedInto == nil || *p.MergedInto != survivor.ID {
					t.Fatalf("round %d: got duplicate %+v, want MERGED into %s", round, p, survivor.ID)
				}
			}
		}
		sameCounts(t, fmt.Sprintf("round %d survivor", round), profileCounts(t, env.DB, survivor.ID), wantAll)
		sameCounts(t, fmt.Sprintf("round %d duplicate", round), profileCounts(t, env.DB, duplicate.ID), zero)
		if n := auditRows(t, env.DB, merge.ActionMergeRefused, survivor.ID); n != 1 {
			t.Fatalf("round %d: got %d refusal events, want 1", round, n)
		}
	}
	// Locks taken in one global order: PostgreSQL never had to break a deadlock.
	var deadlocks int
	mustGet(t, env.DB, &deadlocks, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)
	t.Logf("deadlocks detected by PostgreSQL over 20 rounds: %d", deadlocks)
	if deadlocks != 0 {
		t.Fatalf("got %d deadlocks, want 0", deadlocks)
	}
	var merges int
	mustGet(t, env.DB, &merges, `SELECT count(*) FROM merges`)
	if merges != 20 {
		t.Fatalf("got %d merges, want 20", merges)
	}
	// Nothing lost, nothing duplicated: 40 new profiles and their rows, and one alternate
	// email per merge.
	after := tableCounts(t, env.DB)
	want := withAlternates(before, 20)
	want["certification_profiles"] += 40
	want["earned_certifications"] += 40
	want["exam_results"] += 40
	want["transcript_shares"] += 40
	sameCounts(t, "tables", after, want)
}

func TestRaceManyDuplicatesIntoOneSurvivor(t *testing.T) {
	env := apitest.New(t)
	token := env.Token(agent)
	s := newProfile(t, env, "Many Survivor")
	addEarned(t, env, s, "azure-administrator-associate", "2020-05-15", "2021-05-15")
	dups := make([]prof, 10)
	var inputs []map[string]any
	want := profileCounts(t, env.DB, s.ID)
	for i := range dups {
		dups[i] = newProfile(t, env, "Many Duplicate")
		// The same certification on every side, each expiring on a different day: exactly one
		// (the latest, dups[9]'s 2021-09-10) may stay current, whatever order the merges run in.
		addEarned(t, env, dups[i], "azure-administrator-associate", "2020-09-01", fmt.Sprintf("2021-09-%02d", i+1))
		addResult(t, env, dups[i], "AZ-104", true)
		addShare(t, env, dups[i])
		want = sum(want, profileCounts(t, env.DB, dups[i].ID))
		inputs = append(inputs, mergeInput(s, dups[i], fmt.Sprintf("many-%d", i), nil))
	}
	for i, o := range concurrently(t, env, token, inputs) {
		if o.code != "" {
			t.Fatalf("merge %d: got %s, want success", i, o.code)
		}
	}
	want["current"] = 1
	sameCounts(t, "survivor", profileCounts(t, env.DB, s.ID), want)
	for _, d := range dups {
		sameCounts(t, "duplicate "+d.MCID, profileCounts(t, env.DB, d.ID), zero)
		var into uuid.UUID
		mustGet(t, env.DB, &into, `SELECT merged_into FROM certification_profiles WHERE id = $1 AND status = 'MERGED'`, d.ID)
		if into != s.ID {
			t.Fatalf("got %s merged into %s, want %s", d.MCID, into, s.ID)
		}
	}
	var current string
	mustGet(t, env.DB, &current, `SELECT expires_on::text FROM earned_certifications WHERE profile_id = $1 AND superseded_at IS NULL`, s.ID)
	if current != "2021-09-10" {
		t.Fatalf("got the current record expiring %s, want 2021-09-10", current)
	}
	var merges, alternates int
	mustGet(t, env.DB, &merges, `SELECT count(*) FROM merges WHERE survivor_id = $1`, s.ID)
	mustGet(t, env.DB, &alternates, `SELECT count(*) FROM profile_alternate_emails WHERE profile_id = $1`, s.ID)
	if merges != 10 || alternates != 10 {
		t.Fatalf("got %d merges and %d alternate emails, want 10 and 10", merges, alternates)
	}
}

func TestRaceSameRequestSameKey(t *testing.T) {
	env := apitest.New(t)
	token := env.Token(agent)
	s, d := newProfile(t, env, "Key Survivor"), newProfile(t, env, "Key Duplicate")
	addEarned(t, env, d, "azure-data-scientist-associate", "2020-07-31", "2021-07-31")
	addResult(t, env, d, "DP-100", true)
	want := sum(profileCounts(t, env.DB, s.ID), profileCounts(t, env.DB, d.ID))
	inputs := make([]map[string]any, 8)
	for i := range inputs {
		inputs[i] = mergeInput(s, d, "same-key", map[string]any{"ticket": "T-77"})
	}
	res := concurrently(t, env, token, inputs)
	eventID := ""
	for i, o := range res {
		if o.code != "" {
			t.Fatalf("request %d: got %s, want the (shared) success", i, o.code)
		}
		ev := o.out.MergeCertificationProfiles.AuditEvent.ID
		if eventID == "" {
			eventID = ev
		}
		if ev != eventID || o.out.MergeCertificationProfiles.Duplicate.Status != "MERGED" {
			t.Fatalf("request %d: got event %s duplicate %s, want event %s and MERGED", i, ev,
				o.out.MergeCertificationProfiles.Duplicate.Status, eventID)
		}
	}
	var merges, events, refused, keys int
	mustGet(t, env.DB, &merges, `SELECT count(*) FROM merges`)
	mustGet(t, env.DB, &events, `SELECT count(*) FROM audit_events WHERE action = $1`, merge.ActionMerge)
	mustGet(t, env.DB, &refused, `SELECT count(*) FROM audit_events WHERE action = $1`, merge.ActionMergeRefused)
	mustGet(t, env.DB, &keys, `SELECT count(*) FROM idempotency_keys`)
	if merges != 1 || events != 1 || refused != 0 || keys != 1 {
		t.Fatalf("got %d merges, %d merge events, %d refusals, %d keys; want 1, 1, 0, 1", merges, events, refused, keys)
	}
	sameCounts(t, "survivor", profileCounts(t, env.DB, s.ID), want)
	sameCounts(t, "duplicate", profileCounts(t, env.DB, d.ID), zero)
}

// writers are the writes that race a merge on the duplicate: an exam result recorded by
// MCID and a renewal assessment submitted for one of its certifications.
type writers struct {
	// record records a passed exam result for the profile holding mcid.
	record func(mcid, exam, externalID string) error
	// start starts a renewal attempt on an earned certification as its owner.
	start func(t *testing.T, owner apitest.Identity, earnedID uuid.UUID) uuid.UUID
	// submit submits every correct answer of the attempt as the owner (token); renewed
	// reports whether it passed and extended the expiry. A refusal because the merge
	// superseded the record meanwhile is renewed=false, err=nil.
	submit func(ownerToken string, attemptID uuid.UUID) (renewed bool, err error)
}

func TestRaceMergeWithWritesOnTheDuplicate(t *testing.T) {
	env := apitest.New(t)
	token := env.Token(agent)
	w := writersFor(t, env)
	renewedRounds, resultsBefore, racedSubmits := 0, 0, 0
	for round := range 10 {
		// One person registered twice with one account; the duplicate is the connected one.
		s := newProfile(t, env, "Writer Survivor")
		d := newProfileFor(t, env, s.Owner, "Writer Duplicate")
		connect(t, env, d)
		sAdmin := addEarned(t, env, s, "azure-administrator-associate", "2020-06-30", "2021-06-30")
		dAdmin := addEarned(t, env, d, "azure-administrator-associate", "2020-04-30", "2021-04-30")
		attempt := w.start(t, d.Owner, dAdmin)
		ownerToken := env.Token(d.Owner)
		before := tableCounts(t, env.DB)

		start := make(chan struct{})
		var wg sync.WaitGroup
		var mergeRes outcome
		var renewed, racedSubmit bool
		errs := make(chan error, 8)
		// Each exam earns a certification neither side holds yet.
		exams := []string{"AZ-500", "DP-100", "AI-102"}
		externalIDs := []string{fmt.Sprintf("r%d-x1", round), fmt.Sprintf("r%d-x2", round), fmt.Sprintf("r%d-x3", round)}
		wg.Add(2 + len(externalIDs))
		go func() {
			defer wg.Done()
			<-start
			r, err := post(env.Server.Handler(), token, mergeMutation, mergeInput(s, d, fmt.Sprintf("w%d", round), nil))
			if err == nil && len(r.Errors) > 0 {
				err = fmt.Errorf("merge: %s", r.Raw)
			}
			mergeRes.err = err
		}()
		go func() {
			defer wg.Done()
			<-start
			var err error
			renewed, err = w.submit(ownerToken, attempt)
			// A submission that waited for the merge must find its record on the survivor;
			// NOT_FOUND here (errSubmitRaced) was the renewal lock-query bug, now fixed.
			if err != nil {
				errs <- fmt.Errorf("submit: %w", err)
			}
		}()
		for i, x := range externalIDs {
			go func() {
				defer wg.Done()
				<-start
				if err := w.record(d.MCID, exams[i], x); err != nil {
					errs <- fmt.Errorf("record %s: %w", x, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if mergeRes.err != nil {
			t.Fatalf("round %d: %v", round, mergeRes.err)
		}
		if racedSubmit {
			// Submitted again once the merge is over, the attempt is found on the survivor:
			// refused if its record was superseded, renewed if not.
			racedSubmits++
			var err error
			if renewed, err = w.submit(ownerToken, attempt); err != nil {
				t.Fatalf("round %d: submit again: %v", round, err)
			}
		}

		// Every exam result is there once, on the survivor; the duplicate holds nothing.
		var onSurvivor int
		mustGet(t, env.DB, &onSurvivor, `SELECT count(*) FROM exam_results WHERE external_id = ANY($1::text[]) AND profile_id = $2`,
			"{"+externalIDs[0]+","+externalIDs[1]+","+externalIDs[2]+"}", s.ID)
		if onSurvivor != 3 {
			t.Fatalf("round %d: got %d of 3 exam results on the survivor", round, onSurvivor)
		}
		sameCounts(t, fmt.Sprintf("round %d duplicate", round), profileCounts(t, env.DB, d.ID), zero)
		// Each exam earned its certification once, on whichever side it landed, and it is
		// the survivor's now.
		var earnedCodes []string
		if err := env.DB.Select(&earnedCodes, `SELECT c.code FROM earned_certifications e JOIN certifications c ON c.id = e.certification_id
WHERE e.profile_id = $1 AND c.code <> 'azure-administrator-associate' ORDER BY c.code`, s.ID); err != nil {
			t.Fatal(err)
		}
		if want := []string{"azure-ai-engineer-associate", "azure-data-scientist-associate", "azure-security-engineer-associate"}; !slices.Equal(earnedCodes, want) {
			t.Fatalf("round %d: got earned %v on the survivor, want %v", round, earnedCodes, want)
		}
		// Exactly one current administrator record: the one expiring last.
		var cur struct {
			ID        uuid.UUID `db:"id"`
			ExpiresOn string    `db:"expires_on"`
		}
		mustGet(t, env.DB, &cur, `SELECT e.id, e.expires_on::text AS expires_on FROM earned_certifications e
JOIN certifications c ON c.id = e.certification_id
WHERE e.profile_id = $1 AND e.superseded_at IS NULL AND c.code = 'azure-administrator-associate'`, s.ID)
		var renewals, submitted int
		mustGet(t, env.DB, &renewals, `SELECT count(*) FROM renewals WHERE attempt_id = $1`, attempt)
		mustGet(t, env.DB, &submitted, `SELECT count(*) FROM assessment_attempts WHERE id = $1 AND submitted_at IS NOT NULL`, attempt)
		if renewed {
			// The renewal landed before the merge: the duplicate's record now runs to
			// 2022-04-30 and wins.
			if renewals != 1 || cur.ID != dAdmin || cur.ExpiresOn != "2022-04-30" {
				t.Fatalf("round %d: renewed, but got %d renewals and current %+v, want 1 and %s to 2022-04-30", round, renewals, cur, dAdmin)
			}
		} else {
			// The merge came first and superseded the duplicate's record: the submission was
			// refused and the attempt is still there, unsubmitted.
			if renewals != 0 || submitted != 0 || cur.ID != sAdmin || cur.ExpiresOn != "2021-06-30" {
				t.Fatalf("round %d: not renewed, but got %d renewals, %d submitted, current %+v; want 0, 0 and %s",
					round, renewals, submitted, cur, sAdmin)
			}
		}
		want := sum(before)
		want["exam_results"] += 3
		want["earned_certifications"] += 3
		want["profile_alternate_emails"]++
		if renewed {
			want["renewals"]++
			renewedRounds++
		}
		var moved int
		mustGet(t, env.DB, &moved, `SELECT jsonb_array_length(e.details->'moved'->'examResultIds') FROM audit_events e
JOIN merges m ON m.audit_event_id = e.id WHERE m.duplicate_id = $1`, d.ID)
		resultsBefore += moved
		sameCounts(t, fmt.Sprintf("round %d tables", round), tableCounts(t, env.DB), want)
	}
	t.Logf("the renewal landed before the merge in %d of 10 rounds; %d of 30 exam results landed before it (and moved), the rest after (on the survivor); %d submissions waited for the merge and were refused NOT_FOUND (then submitted again)",
		renewedRounds, resultsBefore, racedSubmits)
}
