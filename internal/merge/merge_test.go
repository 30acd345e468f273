package merge_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/merge"
)

// scene is a survivor and a duplicate with rows in every table a merge touches.
type scene struct {
	S, D prof
	// S's Azure Administrator expires before D's: S's is superseded.
	SAdmin, DAdmin uuid.UUID
	// Both hold Azure Fundamentals (no expiry): D's is superseded, S's kept.
	SFund, DFund uuid.UUID
	// Only D holds Azure Data Engineer, renewed once.
	DData                    uuid.UUID
	DPending, DSent          uuid.UUID // notifications of D
	DShare                   string
	DLearnProfile            uuid.UUID
	DAttemptInProgress       uuid.UUID
	SResults, DResults       []uuid.UUID
	SAlternate, DAlternate   string
	wantSuperseded           []uuid.UUID
	wantMovingCertifications int
}

// newScene builds the scene; the duplicate belongs to the survivor's account when
// sameAccount (its connection then moves), to an account of its own otherwise.
func newScene(t *testing.T, env *apitest.Env, sameAccount bool) scene {
	t.Helper()
	s := scene{S: newProfile(t, env, "Aiko Tanaka")}
	if sameAccount {
		s.D = newProfileFor(t, env, s.S.Owner, "Aiko Tanaka")
	} else {
		s.D = newProfile(t, env, "Aiko Tanaka")
	}
	s.SAdmin = addEarned(t, env, s.S, "azure-administrator-associate", "2020-05-01", "2021-05-01")
	s.SFund = addEarned(t, env, s.S, "azure-fundamentals", "2019-01-10", "")
	s.SResults = []uuid.UUID{addResult(t, env, s.S, "AZ-104", true), addResult(t, env, s.S, "AZ-900", true)}
	s.SAlternate = "aiko.old@example.com"
	addAlternate(t, env, s.S, s.SAlternate)
	addShare(t, env, s.S)

	s.DAdmin = addEarned(t, env, s.D, "azure-administrator-associate", "2020-08-31", "2021-08-31")
	s.DFund = addEarned(t, env, s.D, "azure-fundamentals", "2020-02-29", "")
	s.DData = addEarned(t, env, s.D, "azure-data-engineer-associate", "2019-06-30", "2020-06-30")
	done := addAttempt(t, env, s.DData, true)
	addRenewal(t, env, s.DData, done) // now expires 2021-06-30
	s.DAttemptInProgress = addAttempt(t, env, s.DAdmin, false)
	s.DSent = addNotification(t, env, s.DAdmin, 1, s.D.Email, true)
	s.DPending = addNotification(t, env, s.DAdmin, 2, s.D.Email, false)
	s.DResults = []uuid.UUID{addResult(t, env, s.D, "AZ-104", true), addResult(t, env, s.D, "DP-203", true),
		addResult(t, env, s.D, "AZ-900", false)}
	s.DAlternate = "tanaka.aiko@example.net"
	addAlternate(t, env, s.D, s.DAlternate)
	s.DShare = addShare(t, env, s.D)
	s.DLearnProfile = connect(t, env, s.D)
	s.wantSuperseded = []uuid.UUID{s.SAdmin, s.DFund}
	s.wantMovingCertifications = 3
	return s
}

func TestPreviewReportsAndChangesNothing(t *testing.T) {
	env := apitest.New(t)
	s := newScene(t, env, false) // two accounts, so that both can be connected
	connect(t, env, s.S)         // both connected: a conflict the preview reports, not a refusal
	before := tableCounts(t, env.DB)

	var out previewOut
	env.MustDo(agent, previewMutation, map[string]any{"in": map[string]any{"survivorId": s.S.NodeID, "duplicateId": s.D.NodeID}}, &out)
	pv := out.PreviewCertificationProfileMerge.Preview
	if pv.Survivor.ID != s.S.NodeID || pv.Duplicate.ID != s.D.NodeID {
		t.Fatalf("got survivor %s duplicate %s, want %s and %s", pv.Survivor.ID, pv.Duplicate.ID, s.S.NodeID, s.D.NodeID)
	}
	if pv.MovingCertifications != 3 || pv.MovingExamResults != 3 || pv.MovingAttempts != 2 {
		t.Fatalf("got moving %d/%d/%d, want 3 certifications, 3 exam results, 2 attempts",
			pv.MovingCertifications, pv.MovingExamResults, pv.MovingAttempts)
	}
	gotSup := supersededIDs(t, env, pv.SupersededCertifications)
	if !slices.Equal(gotSup, sorted(s.wantSuperseded)) {
		t.Fatalf("got superseded %v, want %v", gotSup, sorted(s.wantSuperseded))
	}
	if len(pv.Conflicts) != 2 || !hasPrefix(pv.Conflicts, "MERGE_LINK_CONFLICT: ") ||
		!hasPrefix(pv.Conflicts, "ATTEMPT_IN_PROGRESS: the duplicate has 1") {
		t.Fatalf("got conflicts %q, want the link conflict and the duplicate's attempt in progress", pv.Conflicts)
	}
	sameCounts(t, "tables after preview", tableCounts(t, env.DB), before)
	var audits int
	mustGet(t, env.DB, &audits, `SELECT count(*) FROM audit_events`)
	if audits != 0 {
		t.Fatalf("got %d audit events after a preview, want 0", audits)
	}
	var status string
	mustGet(t, env.DB, &status, `SELECT status FROM certification_profiles WHERE id = $1`, s.D.ID)
	if status != "ACTIVE" {
		t.Fatalf("got duplicate %s after preview, want ACTIVE", status)
	}
}

func TestPreviewMatchesTheMerge(t *testing.T) {
	env := apitest.New(t)
	s := newScene(t, env, true)
	var out previewOut
	env.MustDo(agent, previewMutation, map[string]any{"in": map[string]any{"survivorId": s.S.NodeID, "duplicateId": s.D.NodeID}}, &out)
	predicted := supersededIDs(t, env, out.PreviewCertificationProfileMerge.Preview.SupersededCertifications)
	doMerge(t, env, s.S, s.D, "k-preview", nil)
	var actual []uuid.UUID
	if err := env.DB.Select(&actual, `SELECT id FROM earned_certifications WHERE superseded_at IS NOT NULL ORDER BY id::text`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(predicted, actual) {
		t.Fatalf("got superseded %v after the merge, want the preview's %v", actual, predicted)
	}
}

func TestMergeMovesEverythingAndLosesNothing(t *testing.T) {
	env := apitest.New(t)
	s := newScene(t, env, true)
	beforeTables := tableCounts(t, env.DB)
	sBefore, dBefore := profileCounts(t, env.DB, s.S.ID), profileCounts(t, env.DB, s.D.ID)
	env.Clock.Set(time.Date(2021, 3, 2, 10, 30, 0, 0, time.UTC))
	now := env.Clock.Now()

	out := doMerge(t, env, s.S, s.D, "k-main", map[string]any{"ticket": " SR-1042 "}).MergeCertificationProfiles

	// The payload.
	if out.Survivor.ID != s.S.NodeID || out.Survivor.Status != "ACTIVE" {
		t.Fatalf("got survivor %+v, want %s ACTIVE", out.Survivor, s.S.NodeID)
	}
	if out.Duplicate.ID != s.D.NodeID || out.Duplicate.Status != "MERGED" || out.Duplicate.MergedInto == nil ||
		out.Duplicate.MergedInto.ID != s.S.NodeID {
		t.Fatalf("got duplicate %+v, want %s MERGED into %s", out.Duplicate, s.D.NodeID, s.S.NodeID)
	}
	ev := out.AuditEvent
	if ev.Action != merge.ActionMerge || ev.Actor != apitest.Issuer+"|agent-1" || deref(ev.Reason) != "same person registered twice" ||
		deref(ev.Ticket) != "SR-1042" || ev.OccurredAt != "2021-03-02T10:30:00Z" {
		t.Fatalf("got audit event %+v, want profile.merge by %s|agent-1 with reason, ticket SR-1042 at 2021-03-02T10:30:00Z", ev, apitest.Issuer)
	}

	// Nothing lost, nothing duplicated: every table has as many rows as before ...
	sameCounts(t, "table rows", tableCounts(t, env.DB), withAlternates(beforeTables, 2))
	// ... and everything of the duplicate is now the survivor's.
	want := sum(sBefore, dBefore)
	want["current"] -= len(s.wantSuperseded)
	sameCounts(t, "survivor", profileCounts(t, env.DB, s.S.ID), want)
	sameCounts(t, "duplicate", profileCounts(t, env.DB, s.D.ID), zero)

	// The duplicate points to the survivor; a merges row records it.
	var row struct {
		Status     string     `db:"status"`
		MergedInto uuid.UUID  `db:"merged_into"`
		MergedAt   time.Time  `db:"merged_at"`
		Merges     int        `db:"merges"`
		EventID    *uuid.UUID `db:"audit_event_id"`
	}
	mustGet(t, env.DB, &row, `SELECT p.status, p.merged_into, p.merged_at,
  (SELECT count(*) FROM merges m WHERE m.duplicate_id = p.id AND m.survivor_id = $2) AS merges,
  (SELECT m.audit_event_id FROM merges m WHERE m.duplicate_id = p.id) AS audit_event_id
FROM certification_profiles p WHERE p.id = $1`, s.D.ID, s.S.ID)
	if row.Status != "MERGED" || row.MergedInto != s.S.ID || !row.MergedAt.Equal(now) || row.Merges != 1 || row.EventID == nil {
		t.Fatalf("got %+v, want MERGED into %s at %s with one merges row", row, s.S.ID, now)
	}

	// Superseding: the earlier expiry (S's administrator) and the duplicate's fundamentals.
	type supRow struct {
		ID           uuid.UUID  `db:"id"`
		SupersededBy *uuid.UUID `db:"superseded_by"`
		SupersededAt *time.Time `db:"superseded_at"`
	}
	var sups []supRow
	if err := env.DB.Select(&sups, `SELECT id, superseded_by, superseded_at FROM earned_certifications WHERE superseded_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	wantBy := map[uuid.UUID]uuid.UUID{s.SAdmin: s.DAdmin, s.DFund: s.SFund}
	if len(sups) != len(wantBy) {
		t.Fatalf("got %d superseded, want %d", len(sups), len(wantBy))
	}
	for _, r := range sups {
		if r.SupersededBy == nil || wantBy[r.ID] != *r.SupersededBy || !r.SupersededAt.Equal(now) {
			t.Fatalf("got %s superseded by %v at %v, want by %s at %s", r.ID, r.SupersededBy, r.SupersededAt, wantBy[r.ID], now)
		}
	}

	// The link moved; the pending reminder now goes to the survivor's email, the sent one did not change.
	var linked uuid.UUID
	mustGet(t, env.DB, &linked, `SELECT learn_profile_id FROM profile_links WHERE certification_profile_id = $1`, s.S.ID)
	if linked != s.DLearnProfile {
		t.Fatalf("got survivor linked to %s, want the duplicate's Learn profile %s", linked, s.DLearnProfile)
	}
	var pendingTo, sentTo string
	mustGet(t, env.DB, &pendingTo, `SELECT email FROM notifications WHERE id = $1`, s.DPending)
	mustGet(t, env.DB, &sentTo, `SELECT email FROM notifications WHERE id = $1`, s.DSent)
	if pendingTo != s.S.Email || sentTo != s.D.Email {
		t.Fatalf("got pending to %s and sent to %s, want %s and %s", pendingTo, sentTo, s.S.Email, s.D.Email)
	}

	// The duplicate's email and its alternate join the survivor's alternates.
	var alts []string
	if err := env.DB.Select(&alts, `SELECT email FROM profile_alternate_emails WHERE profile_id = $1 ORDER BY email`, s.S.ID); err != nil {
		t.Fatal(err)
	}
	wantAlts := sorted2([]string{s.SAlternate, s.DAlternate, s.D.Email})
	if !slices.Equal(alts, wantAlts) {
		t.Fatalf("got alternates %v, want %v", alts, wantAlts)
	}

	// Through the API, the duplicate's MCID shows the survivor with both emails and the moved
	// connection.
	var viewed struct {
		CertificationProfile struct {
			ID              string
			AlternateEmails []string
			LearnProfile    *struct{ ID string }
		}
	}
	env.MustDo(agent, `query($m: String!) { certificationProfile(mcid: $m) { id alternateEmails learnProfile { id } } }`,
		map[string]any{"m": s.D.MCID}, &viewed)
	vp := viewed.CertificationProfile
	if vp.ID != s.S.NodeID || !slices.Equal(sorted2(vp.AlternateEmails), wantAlts) || vp.LearnProfile == nil ||
		vp.LearnProfile.ID != encodeID("LearnProfile", s.DLearnProfile) {
		t.Fatalf("got %+v, want survivor %s with alternates %v and the duplicate's Learn profile", vp, s.S.NodeID, wantAlts)
	}

	// The transcript share of the duplicate now shows the survivor.
	var shareOwner uuid.UUID
	mustGet(t, env.DB, &shareOwner, `SELECT profile_id FROM transcript_shares WHERE code = $1`, s.DShare)
	if shareOwner != s.S.ID {
		t.Fatalf("got share on %s, want the survivor %s", shareOwner, s.S.ID)
	}

	// The audit event names both profiles and says what moved.
	if n := auditRows(t, env.DB, merge.ActionMerge, s.S.ID) + auditRows(t, env.DB, merge.ActionMerge, s.D.ID); n != 2 {
		t.Fatalf("got the merge event linked %d times, want to both profiles", n)
	}
	var details struct {
		Counts map[string]int `json:"counts"`
		Moved  struct {
			EarnedIDs     []uuid.UUID `json:"earnedCertificationIds"`
			ExamResultIDs []uuid.UUID `json:"examResultIds"`
		} `json:"moved"`
		LinkMoved *struct {
			LearnProfileID uuid.UUID `json:"learnProfileId"`
		} `json:"learnProfileLinkMoved"`
		LinkRemoved *json.RawMessage `json:"learnProfileLinkRemoved"`
	}
	if err := json.Unmarshal([]byte(ev.Details), &details); err != nil {
		t.Fatalf("details %q: %v", ev.Details, err)
	}
	wantCounts := map[string]int{"earnedCertifications": 3, "examResults": 3, "attempts": 2, "renewals": 1,
		"notifications": 2, "transcriptShares": 1, "alternateEmails": 2, "superseded": 2}
	sameCounts(t, "audit counts", details.Counts, wantCounts)
	if !slices.Equal(sorted(details.Moved.ExamResultIDs), sorted(s.DResults)) ||
		!slices.Equal(sorted(details.Moved.EarnedIDs), sorted([]uuid.UUID{s.DAdmin, s.DFund, s.DData})) {
		t.Fatalf("got moved ids %+v, want the duplicate's rows", details.Moved)
	}
	if details.LinkMoved == nil || details.LinkMoved.LearnProfileID != s.DLearnProfile || details.LinkRemoved != nil {
		t.Fatalf("got link details %s, want the duplicate's link moved and none removed", ev.Details)
	}
}

func TestMergedProfileResolvesToItsSurvivor(t *testing.T) {
	env := apitest.New(t)
	a, b, c := newProfile(t, env, "Ana Silva"), newProfile(t, env, "Ana Silva"), newProfile(t, env, "Ana Silva")
	shareA := addShare(t, env, a)
	earnedA := addEarned(t, env, a, "azure-developer-associate", "2020-10-15", "2021-10-15")
	doMerge(t, env, b, a, "k-ab", nil) // A into B
	env.Clock.Advance(time.Hour)
	doMerge(t, env, c, b, "k-bc", nil) // then B into C: A follows the chain to C

	for _, p := range []prof{a, b, c} {
		var out struct{ CertificationProfile *struct{ ID, Mcid string } }
		env.MustDo(agent, `query($m: String!) { certificationProfile(mcid: $m) { id mcid } }`, map[string]any{"m": p.MCID}, &out)
		if out.CertificationProfile == nil || out.CertificationProfile.ID != c.NodeID || out.CertificationProfile.Mcid != c.MCID {
			t.Fatalf("MCID %s: got %+v, want the current survivor %s (MCID %s)", p.MCID, out.CertificationProfile, c.NodeID, c.MCID)
		}
	}
	// Old ids stay fetchable (node(id) returns the object with that id) and lead down the
	// chain: A is MERGED into B, which is MERGED into C.
	var node struct {
		Node *struct {
			ID, Status string
			MergedInto *struct {
				ID, Status string
				MergedInto *struct{ ID, Status string }
			}
		}
	}
	env.MustDo(agent, `query($id: ID!) { node(id: $id) { ... on CertificationProfile {
  id status mergedInto { id status mergedInto { id status } } } } }`, map[string]any{"id": a.NodeID}, &node)
	if n := node.Node; n == nil || n.ID != a.NodeID || n.Status != "MERGED" || n.MergedInto == nil || n.MergedInto.ID != b.NodeID ||
		n.MergedInto.MergedInto == nil || n.MergedInto.MergedInto.ID != c.NodeID || n.MergedInto.MergedInto.Status != "ACTIVE" {
		t.Fatalf("node(A): got %+v, want A MERGED into B MERGED into C (ACTIVE)", node.Node)
	}
	// A's transcript code shows C to an employer (no token).
	var tr struct {
		Transcript *struct{ Mcid, LegalName string }
	}
	env.MustDo(apitest.Anonymous, `query($c: String!) { transcript(shareCode: $c) { mcid legalName } }`, map[string]any{"c": shareA}, &tr)
	if tr.Transcript == nil || tr.Transcript.Mcid != c.MCID {
		t.Fatalf("transcript of A's code: got %+v, want MCID %s", tr.Transcript, c.MCID)
	}
	var on uuid.UUID
	mustGet(t, env.DB, &on, `SELECT profile_id FROM transcript_shares WHERE code = $1`, shareA)
	if on != c.ID {
		t.Fatalf("got A's share on %s, want C %s", on, c.ID)
	}
	mustGet(t, env.DB, &on, `SELECT profile_id FROM earned_certifications WHERE id = $1`, earnedA)
	if on != c.ID {
		t.Fatalf("got A's certification on %s, want C %s", on, c.ID)
	}
	// A stays merged into B (history), B into C.
	var intoA, intoB uuid.UUID
	mustGet(t, env.DB, &intoA, `SELECT merged_into FROM certification_profiles WHERE id = $1`, a.ID)
	mustGet(t, env.DB, &intoB, `SELECT merged_into FROM certification_profiles WHERE id = $1`, b.ID)
	if intoA != b.ID || intoB != c.ID {
		t.Fatalf("got A into %s and B into %s, want %s and %s", intoA, intoB, b.ID, c.ID)
	}
}

func TestMergeRefusals(t *testing.T) {
	env := apitest.New(t)
	s, d := newProfile(t, env, "Li Wei"), newProfile(t, env, "Li Wei")
	addEarned(t, env, d, "azure-developer-associate", "2020-10-15", "2021-10-15")
	merged, into := newProfile(t, env, "Li Wei"), newProfile(t, env, "Li Wei")
	doMerge(t, env, into, merged, "k-setup", nil)
	missing := prof{NodeID: encodeProfileID(uuid.New())}
	linkedS, linkedD := newProfile(t, env, "Li Wei"), newProfile(t, env, "Li Wei")
	connect(t, env, linkedS)
	connect(t, env, linkedD)

	cases := []struct {
		name      string
		as        apitest.Identity
		surv, dup prof
		extra     map[string]any
		code      string
		audited   bool
	}{
		{"a learner may not merge", s.Owner, s, d, nil, "FORBIDDEN", false},
		{"an admin is not support", apitest.Admin("admin-1"), s, d, nil, "FORBIDDEN", false},
		{"exam delivery is not support", apitest.ExamDelivery(), s, d, nil, "FORBIDDEN", false},
		{"anonymous callers must sign in", apitest.Anonymous, s, d, nil, "UNAUTHENTICATED", false},
		{"a profile cannot be merged into itself", agent, s, s, nil, "MERGE_SAME_PROFILE", true},
		{"an empty reason is refused", agent, s, d, map[string]any{"reason": ""}, "BAD_USER_INPUT", true},
		{"a blank reason is refused", agent, s, d, map[string]any{"reason": "  \n "}, "BAD_USER_INPUT", true},
		{"an empty idempotency key is refused", agent, s, d, map[string]any{"idempotencyKey": ""}, "BAD_USER_INPUT", true},
		{"a missing survivor is not found", agent, missing, d, nil, "NOT_FOUND", true},
		{"a missing duplicate is not found", agent, s, missing, nil, "NOT_FOUND", true},
		{"a merged duplicate cannot be merged again", agent, s, merged, nil, "PROFILE_ALREADY_MERGED", true},
		{"nothing merges into a merged profile", agent, merged, d, nil, "PROFILE_ALREADY_MERGED", true},
		{"both connected without a choice", agent, linkedS, linkedD, nil, "MERGE_LINK_CONFLICT", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			beforeTables := tableCounts(t, env.DB)
			var beforeRefused []uuid.UUID
			if err := env.DB.Select(&beforeRefused, `SELECT id FROM audit_events WHERE action = $1`, merge.ActionMergeRefused); err != nil {
				t.Fatal(err)
			}
			key := "k-refusal-" + string(rune('a'+i))
			env.MustFail(c.as, mergeMutation, mergeInput(c.surv, c.dup, key, c.extra), c.code)
			sameCounts(t, "tables after a refusal", tableCounts(t, env.DB), beforeTables)
			var refused []uuid.UUID
			if err := env.DB.Select(&refused, `SELECT id FROM audit_events WHERE action = $1 AND NOT (id = ANY(coalesce($2::uuid[], '{}')))`,
				merge.ActionMergeRefused, pq.Array(beforeRefused)); err != nil {
				t.Fatal(err)
			}
			wantRefused := 0
			if c.audited {
				wantRefused = 1
			}
			if len(refused) != wantRefused {
				t.Fatalf("got %d new refused-merge audit events, want %d", len(refused), wantRefused)
			}
			if c.audited {
				var ev struct {
					Actor   string `db:"actor"`
					Details string `db:"details"`
					Links   int    `db:"links"`
				}
				mustGet(t, env.DB, &ev, `SELECT e.actor, e.details::text AS details,
  (SELECT count(*) FROM audit_event_profiles ep WHERE ep.event_id = e.id) AS links
FROM audit_events e WHERE e.id = $1`, refused[0])
				var det struct{ Code string }
				_ = json.Unmarshal([]byte(ev.Details), &det)
				wantLinks := 2
				if c.surv.ID == c.dup.ID || c.surv.ID == uuid.Nil || c.dup.ID == uuid.Nil {
					wantLinks = 1
				}
				if ev.Actor != apitest.Issuer+"|agent-1" || det.Code != c.code || ev.Links != wantLinks {
					t.Fatalf("got refusal audit %+v, want actor agent-1, code %s, linked to %d profiles", ev, c.code, wantLinks)
				}
			}
			var status string
			mustGet(t, env.DB, &status, `SELECT status FROM certification_profiles WHERE id = $1`, d.ID)
			if status != "ACTIVE" {
				t.Fatalf("got duplicate %s, want ACTIVE", status)
			}
		})
	}
}

func TestPreviewRefusals(t *testing.T) {
	env := apitest.New(t)
	s, d := newProfile(t, env, "Omar Haddad"), newProfile(t, env, "Omar Haddad")
	merged, into := newProfile(t, env, "Omar Haddad"), newProfile(t, env, "Omar Haddad")
	doMerge(t, env, into, merged, "k-setup", nil)
	missing := prof{NodeID: encodeProfileID(uuid.New())}
	cases := []struct {
		name      string
		as        apitest.Identity
		surv, dup prof
		code      string
	}{
		{"a learner may not preview", s.Owner, s, d, "FORBIDDEN"},
		{"anonymous callers must sign in", apitest.Anonymous, s, d, "UNAUTHENTICATED"},
		{"same profile", agent, s, s, "MERGE_SAME_PROFILE"},
		{"missing survivor", agent, missing, d, "NOT_FOUND"},
		{"merged duplicate", agent, s, merged, "PROFILE_ALREADY_MERGED"},
		{"merged survivor", agent, merged, d, "PROFILE_ALREADY_MERGED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env.MustFail(c.as, previewMutation, map[string]any{"in": map[string]any{"survivorId": c.surv.NodeID, "duplicateId": c.dup.NodeID}}, c.code)
		})
	}
}

func TestMergeLearnProfileConnections(t *testing.T) {
	env := apitest.New(t)
	t.Run("the survivor's connection stays when only it is connected", func(t *testing.T) {
		s, d := newProfile(t, env, "Sam Lee"), newProfile(t, env, "Sam Lee")
		lp := connect(t, env, s)
		doMerge(t, env, s, d, "k-only-s", nil)
		assertLink(t, env, s, &lp)
		assertLink(t, env, d, nil)
	})
	t.Run("the duplicate's connection moves when both belong to one account", func(t *testing.T) {
		s := newProfile(t, env, "Sam Lee")
		d := newProfileFor(t, env, s.Owner, "Sam Lee")
		lp := connect(t, env, d)
		doMerge(t, env, s, d, "k-only-d", nil)
		assertLink(t, env, s, &lp)
		assertLink(t, env, d, nil)
	})
	// Both connected can only happen across accounts (an account has one Learn profile).
	t.Run("both connected, keep the SURVIVOR", func(t *testing.T) {
		s, d := newProfile(t, env, "Sam Lee"), newProfile(t, env, "Sam Lee")
		sLP, dLP := connect(t, env, s), connect(t, env, d)
		before := tableCounts(t, env.DB)
		out := doMerge(t, env, s, d, "k-keep-SURVIVOR", map[string]any{"keepLearnProfileOf": "SURVIVOR"}).MergeCertificationProfiles
		assertLink(t, env, s, &sLP)
		assertLink(t, env, d, nil)
		// Only the given-up connection row is deleted ...
		want := withAlternates(before, 1)
		want["profile_links"]--
		sameCounts(t, "tables", tableCounts(t, env.DB), want)
		// ... and the audit event keeps it.
		var det struct {
			Removed *struct {
				LearnProfileID         uuid.UUID `json:"learnProfileId"`
				CertificationProfileID uuid.UUID `json:"certificationProfileId"`
				LinkedAt               time.Time `json:"linkedAt"`
			} `json:"learnProfileLinkRemoved"`
			Keep string `json:"keepLearnProfileOf"`
		}
		if err := json.Unmarshal([]byte(out.AuditEvent.Details), &det); err != nil {
			t.Fatal(err)
		}
		if det.Removed == nil || det.Removed.LearnProfileID != dLP || det.Removed.CertificationProfileID != d.ID ||
			!det.Removed.LinkedAt.Equal(env.Clock.Now()) || det.Keep != "SURVIVOR" {
			t.Fatalf("got details %s, want the removed link %s of %s and keep SURVIVOR", out.AuditEvent.Details, dLP, d.ID)
		}
	})
	t.Run("both connected, keeping the DUPLICATE's connection across accounts is refused", func(t *testing.T) {
		s, d := newProfile(t, env, "Sam Lee"), newProfile(t, env, "Sam Lee")
		sLP, dLP := connect(t, env, s), connect(t, env, d)
		before := tableCounts(t, env.DB)
		env.MustFail(agent, mergeMutation, mergeInput(s, d, "k-keep-DUPLICATE", map[string]any{"keepLearnProfileOf": "DUPLICATE"}),
			"ACCOUNT_MISMATCH")
		sameCounts(t, "tables", tableCounts(t, env.DB), before)
		assertLink(t, env, s, &sLP)
		assertLink(t, env, d, &dLP)
	})
}

func assertLink(t *testing.T, env *apitest.Env, p prof, want *uuid.UUID) {
	t.Helper()
	var got []uuid.UUID
	if err := env.DB.Select(&got, `SELECT learn_profile_id FROM profile_links WHERE certification_profile_id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	switch {
	case want == nil && len(got) != 0:
		t.Fatalf("got %s connected to %v, want none", p.MCID, got)
	case want != nil && (len(got) != 1 || got[0] != *want):
		t.Fatalf("got %s connected to %v, want %s", p.MCID, got, *want)
	}
}

func TestMergeIdempotency(t *testing.T) {
	env := apitest.New(t)
	s, d, c := newProfile(t, env, "Eva Novak"), newProfile(t, env, "Eva Novak"), newProfile(t, env, "Eva Novak")
	addEarned(t, env, d, "azure-ai-engineer-associate", "2020-09-01", "2021-09-01")
	first := doMerge(t, env, s, d, "k-1", map[string]any{"ticket": "T-9"}).MergeCertificationProfiles
	counts := func() (merges, events int) {
		mustGet(t, env.DB, &merges, `SELECT count(*) FROM merges`)
		mustGet(t, env.DB, &events, `SELECT count(*) FROM audit_events`)
		return
	}
	m0, e0 := counts()

	t.Run("a replay returns the stored response and changes nothing", func(t *testing.T) {
		env.Clock.Advance(time.Minute)
		before := tableCounts(t, env.DB)
		again := doMerge(t, env, s, d, "k-1", map[string]any{"ticket": "T-9"}).MergeCertificationProfiles
		if again.AuditEvent.ID != first.AuditEvent.ID || again.Survivor.ID != first.Survivor.ID || again.Duplicate.ID != first.Duplicate.ID {
			t.Fatalf("got %+v, want the first response %+v", again, first)
		}
		if again.AuditEvent.OccurredAt != first.AuditEvent.OccurredAt {
			t.Fatalf("got event at %s, want the original %s", again.AuditEvent.OccurredAt, first.AuditEvent.OccurredAt)
		}
		sameCounts(t, "tables after replay", tableCounts(t, env.DB), before)
		if m, e := counts(); m != m0 || e != e0 {
			t.Fatalf("got %d merges and %d events, want %d and %d", m, e, m0, e0)
		}
	})
	t.Run("the same key with a different request is refused", func(t *testing.T) {
		env.MustFail(agent, mergeMutation, mergeInput(s, d, "k-1", map[string]any{"ticket": "T-10"}), "IDEMPOTENCY_KEY_REUSED")
		env.MustFail(agent, mergeMutation, mergeInput(c, s, "k-1", map[string]any{"ticket": "T-9"}), "IDEMPOTENCY_KEY_REUSED")
		if n := auditRows(t, env.DB, merge.ActionMergeRefused, c.ID); n != 1 {
			t.Fatalf("got %d refusal events on the other profile, want 1", n)
		}
	})
	t.Run("a replay after the profiles changed still returns the stored response", func(t *testing.T) {
		doMerge(t, env, c, s, "k-2", nil) // the survivor is itself merged away
		again := doMerge(t, env, s, d, "k-1", map[string]any{"ticket": "T-9"}).MergeCertificationProfiles
		if again.AuditEvent.ID != first.AuditEvent.ID || again.Survivor.ID != s.NodeID || again.Survivor.Status != "MERGED" {
			t.Fatalf("got %+v, want event %s and survivor %s (now MERGED)", again, first.AuditEvent.ID, s.NodeID)
		}
	})
	t.Run("a refused request stores nothing under its key", func(t *testing.T) {
		x, y := newProfile(t, env, "Eva Novak"), newProfile(t, env, "Eva Novak")
		connect(t, env, x)
		connect(t, env, y)
		env.MustFail(agent, mergeMutation, mergeInput(x, y, "k-3", nil), "MERGE_LINK_CONFLICT")
		out := doMerge(t, env, x, y, "k-3", map[string]any{"keepLearnProfileOf": "SURVIVOR"}).MergeCertificationProfiles
		if out.Duplicate.Status != "MERGED" {
			t.Fatalf("got %+v, want the retried merge done", out.Duplicate)
		}
	})
	t.Run("keys are kept 30 days, then purged", func(t *testing.T) {
		var keys int
		mustGet(t, env.DB, &keys, `SELECT count(*) FROM idempotency_keys WHERE scope = 'merge'`)
		if keys != 3 {
			t.Fatalf("got %d keys, want 3", keys)
		}
		var firstExpiry time.Time
		mustGet(t, env.DB, &firstExpiry, `SELECT expires_at FROM idempotency_keys WHERE key = 'k-1'`)
		created, _ := time.Parse(time.RFC3339, first.AuditEvent.OccurredAt)
		if want := created.Add(30 * 24 * time.Hour); !firstExpiry.Equal(want) {
			t.Fatalf("got k-1 expiring at %s, want %s", firstExpiry, want)
		}
		svc := env.Server.Resolver.Merge
		env.Clock.Set(firstExpiry.Add(-time.Second))
		if n, err := svc.PurgeExpiredKeys(context.Background()); err != nil || n != 0 {
			t.Fatalf("a second before expiry: got %d purged (%v), want 0", n, err)
		}
		// Still within retention: the replay is honoured.
		again := doMerge(t, env, s, d, "k-1", map[string]any{"ticket": "T-9"}).MergeCertificationProfiles
		if again.AuditEvent.ID != first.AuditEvent.ID {
			t.Fatalf("got event %s within retention, want %s", again.AuditEvent.ID, first.AuditEvent.ID)
		}
		env.Clock.Set(firstExpiry)
		if n, err := svc.PurgeExpiredKeys(context.Background()); err != nil || n != 1 {
			t.Fatalf("at expiry: got %d purged (%v), want 1 (k-1)", n, err)
		}
		env.Clock.Advance(31 * 24 * time.Hour)
		if n, err := svc.PurgeExpiredKeys(context.Background()); err != nil || n != 2 {
			t.Fatalf("after every expiry: got %d purged (%v), want 2", n, err)
		}
		// A forgotten key is a new key: the request is evaluated again (and refused, as d is merged).
		env.MustFail(agent, mergeMutation, mergeInput(s, d, "k-1", map[string]any{"ticket": "T-9"}), "PROFILE_ALREADY_MERGED")
	})
}

func TestExpiredKeyIsTakenOverBeforeThePurge(t *testing.T) {
	env := apitest.New(t)
	s, d := newProfile(t, env, "Kai Müller"), newProfile(t, env, "Kai Müller")
	x, y := newProfile(t, env, "Kai Müller"), newProfile(t, env, "Kai Müller")
	doMerge(t, env, s, d, "k-old", nil)
	env.Clock.Advance(merge.KeyRetention)
	out := doMerge(t, env, x, y, "k-old", nil).MergeCertificationProfiles
	if out.Duplicate.ID != y.NodeID || out.Duplicate.Status != "MERGED" {
		t.Fatalf("got %+v, want y merged under the expired key", out.Duplicate)
	}
	var keys int
	mustGet(t, env.DB, &keys, `SELECT count(*) FROM idempotency_keys WHERE key = 'k-old' AND expires_at > $1`, env.Clock.Now())
	if keys != 1 {
		t.Fatalf("got %d live k-old keys, want 1", keys)
	}
}

const auditEventsQuery = `query($m: String!, $first: Int, $after: String) {
  certificationProfile(mcid: $m) {
    auditEvents(first: $first, after: $after) {
      totalCount
      edges { cursor node { id action actor reason ticket occurredAt details } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

type auditPage struct {
	CertificationProfile *struct {
		AuditEvents struct {
			TotalCount int
			Edges      []struct {
				Cursor string
				Node   struct{ ID, Action, Actor, OccurredAt string }
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
}

func TestAuditEvents(t *testing.T) {
	env := apitest.New(t)
	a, b, c := newProfile(t, env, "Noa Levi"), newProfile(t, env, "Noa Levi"), newProfile(t, env, "Noa Levi")
	env.MustFail(agent, mergeMutation, mergeInput(a, a, "k-self", nil), "MERGE_SAME_PROFILE") // refused, audited on A
	env.Clock.Advance(time.Minute)
	ab := doMerge(t, env, b, a, "k-ab", nil).MergeCertificationProfiles.AuditEvent
	env.Clock.Advance(time.Minute)
	bc := doMerge(t, env, c, b, "k-bc", nil).MergeCertificationProfiles.AuditEvent

	// C's events include those of the profiles merged into it, newest first, one per page.
	var ids, actions []string
	var after *string
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		var out auditPage
		vars := map[string]any{"m": c.MCID, "first": 1}
		if after != nil {
			vars["after"] = *after
		}
		env.MustDo(agent, auditEventsQuery, vars, &out)
		conn := out.CertificationProfile.AuditEvents
		if conn.TotalCount != 3 {
			t.Fatalf("got totalCount %d, want 3", conn.TotalCount)
		}
		for _, e := range conn.Edges {
			ids = append(ids, e.Node.ID)
			actions = append(actions, e.Node.Action)
		}
		if !conn.PageInfo.HasNextPage {
			break
		}
		after = conn.PageInfo.EndCursor
	}
	if len(ids) != 3 || ids[0] != bc.ID || ids[1] != ab.ID || actions[2] != merge.ActionMergeRefused {
		t.Fatalf("got %v %v, want [%s %s refused]", ids, actions, bc.ID, ab.ID)
	}

	t.Run("only support reads audit events", func(t *testing.T) {
		r := env.Do(c.Owner, auditEventsQuery, map[string]any{"m": c.MCID})
		if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" {
			t.Fatalf("got %s, want FORBIDDEN", r.Raw)
		}
	})
	t.Run("node resolves an audit event for support only", func(t *testing.T) {
		q := `query($id: ID!) { node(id: $id) { id ... on AuditEvent { action actor } } }`
		var out struct {
			Node *struct{ ID, Action, Actor string }
		}
		env.MustDo(agent, q, map[string]any{"id": ab.ID}, &out)
		if out.Node == nil || out.Node.ID != ab.ID || out.Node.Action != merge.ActionMerge {
			t.Fatalf("got %+v, want the A-into-B event", out.Node)
		}
		out.Node = nil
		env.MustDo(c.Owner, q, map[string]any{"id": ab.ID}, &out)
		if out.Node != nil {
			t.Fatalf("learner: got %+v, want null", out.Node)
		}
	})
	t.Run("a bad cursor is bad input", func(t *testing.T) {
		env.MustFail(agent, auditEventsQuery, map[string]any{"m": c.MCID, "after": "nope"}, "BAD_USER_INPUT")
		env.MustFail(agent, auditEventsQuery, map[string]any{"m": c.MCID, "first": 101}, "BAD_USER_INPUT")
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sorted(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int {
		switch {
		case a.String() < b.String():
			return -1
		case a.String() > b.String():
			return 1
		}
		return 0
	})
	return out
}

func sorted2(s []string) []string { out := slices.Clone(s); slices.Sort(out); return out }

func hasPrefix(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix })
}

// withAlternates is before with n more alternate email rows (the only rows a merge adds to
// the moved tables).
func withAlternates(before map[string]int, n int) map[string]int {
	out := sum(before)
	out["profile_alternate_emails"] += n
	return out
}
