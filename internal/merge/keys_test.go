package merge_test

import (
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/merge"
)

// TestIdempotencyKeysBelongToTheirActor: a key used by one support agent is not another's to
// replay: a second agent sending the same key (even with the very same request) is refused
// with IDEMPOTENCY_KEY_REUSED, gets nothing of the first merge, and the refusal is audited
// under their name; the first agent's replay still works.
func TestIdempotencyKeysBelongToTheirActor(t *testing.T) {
	env := apitest.New(t)
	other := apitest.Support("agent-2")
	s, d := newProfile(t, env, "Noor Khan"), newProfile(t, env, "Noor Khan")
	first := doMerge(t, env, s, d, "shared-key", nil).MergeCertificationProfiles

	before := tableCounts(t, env.DB)
	e := env.MustFail(other, mergeMutation, mergeInput(s, d, "shared-key", nil), "IDEMPOTENCY_KEY_REUSED")
	if !strings.Contains(e.Message, "another support agent") {
		t.Fatalf("got message %q, want it to say another agent used the key", e.Message)
	}
	sameCounts(t, "tables after the other agent's request", tableCounts(t, env.DB), before)
	var refusedBy string
	mustGet(t, env.DB, &refusedBy, `SELECT actor FROM audit_events WHERE action = $1`, merge.ActionMergeRefused)
	if refusedBy != apitest.Issuer+"|agent-2" {
		t.Fatalf("got the refusal audited as %q, want agent-2", refusedBy)
	}
	// A different request from the other agent with the key is refused too.
	x, y := newProfile(t, env, "Noor Khan"), newProfile(t, env, "Noor Khan")
	env.MustFail(other, mergeMutation, mergeInput(x, y, "shared-key", nil), "IDEMPOTENCY_KEY_REUSED")
	assertStatus(t, env, y, "ACTIVE")

	// The first agent's replay is still the stored response.
	again := doMerge(t, env, s, d, "shared-key", nil).MergeCertificationProfiles
	if again.AuditEvent.ID != first.AuditEvent.ID || again.AuditEvent.Actor != apitest.Issuer+"|agent-1" {
		t.Fatalf("got %+v, want agent-1's replayed event %s", again.AuditEvent, first.AuditEvent.ID)
	}
	var merges int
	mustGet(t, env.DB, &merges, `SELECT count(*) FROM merges`)
	if merges != 1 {
		t.Fatalf("got %d merges, want 1", merges)
	}
}

// TestRaceTwoAgentsOneKey: two agents send one merge with the same key at the same moment;
// one merges, the other waits for it and is refused, never replayed.
func TestRaceTwoAgentsOneKey(t *testing.T) {
	env := apitest.New(t)
	for round := range 5 {
		s, d := newProfile(t, env, "Race Key"), newProfile(t, env, "Race Key")
		key := "two-agents-" + string(rune('a'+round))
		h := env.Server.Handler()
		tokens := []string{env.Token(agent), env.Token(apitest.Support("agent-2"))}
		type res struct {
			code string
			raw  []byte
		}
		out := make(chan res, 2)
		start := make(chan struct{})
		for _, tok := range tokens {
			go func() {
				<-start
				r, err := post(h, tok, mergeMutation, mergeInput(s, d, key, nil))
				switch {
				case err != nil:
					out <- res{code: "error: " + err.Error()}
				case len(r.Errors) > 0:
					out <- res{code: r.Errors[0].Code(), raw: r.Raw}
				default:
					out <- res{raw: r.Raw}
				}
			}()
		}
		close(start)
		got := map[string]int{}
		for range tokens {
			r := <-out
			got[r.code]++
			if r.code != "" && r.code != "IDEMPOTENCY_KEY_REUSED" {
				t.Fatalf("round %d: got %s %s, want success or IDEMPOTENCY_KEY_REUSED", round, r.code, r.raw)
			}
		}
		if got[""] != 1 || got["IDEMPOTENCY_KEY_REUSED"] != 1 {
			t.Fatalf("round %d: got %v, want one merge and one IDEMPOTENCY_KEY_REUSED", round, got)
		}
		var merges int
		mustGet(t, env.DB, &merges, `SELECT count(*) FROM merges WHERE duplicate_id = $1`, d.ID)
		if merges != 1 {
			t.Fatalf("round %d: got %d merges, want 1", round, merges)
		}
	}
}

func assertStatus(t *testing.T, env *apitest.Env, p prof, want string) {
	t.Helper()
	var status string
	mustGet(t, env.DB, &status, `SELECT status FROM certification_profiles WHERE id = $1`, p.ID)
	if status != want {
		t.Fatalf("got %s %s, want %s", p.MCID, status, want)
	}
}
