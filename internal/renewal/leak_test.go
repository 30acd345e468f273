package renewal_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/renewal"
)

// TestNoTraceOfCorrectAnswers collects every response of an attempt's life cycle (start,
// reading the attempt, refused and accepted submissions, reading the earned certification
// with its attempts and renewals, and the schema of the served types) and checks that
// nothing in them tells which choices are correct: no "correct" anywhere, correct choice ids
// only ever as plain choices of a served question, and choices not in bank order.
func TestNoTraceOfCorrectAnswers(t *testing.T) {
	// The profile query below asks every question and choice of every attempt, priced by the
	// lists' bounds above the default cost limit; this test is about answers, so it lifts it.
	env := apitest.New(t, apitest.WithEnv(map[string]string{"QUERY_MAX_COST": "1000000"}))
	env.Server.Resolver.Renewals.SetRand(renewal.Seeded(42))
	h := newHolder(t, env, "leak")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-06-15", "")
	var raws [][]byte
	do := func(who apitest.Identity, q string, vars map[string]any) apitest.Response {
		r := env.Do(who, q, vars)
		raws = append(raws, r.Raw)
		return r
	}
	startVars := map[string]any{"id": opaque("EarnedCertification", e), "lang": "en"}
	decodeStart := func(r apitest.Response) attemptOut {
		var out struct{ StartRenewalAssessment struct{ Attempt attemptOut } }
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil {
			t.Fatalf("start: %s", r.Raw)
		}
		return out.StartRenewalAssessment.Attempt
	}
	a1 := decodeStart(do(h.who, startMutation, startVars))
	do(h.who, startMutation, startVars) // ATTEMPT_IN_PROGRESS
	do(h.who, attemptNode, map[string]any{"id": a1.ID})
	q0 := a1.Questions[0]
	do(h.who, submitMutation, map[string]any{"id": a1.ID, "answers": []map[string]any{
		{"questionId": q0.ID, "choiceIds": []string{a1.Questions[1].Choices[0].ID}}}}) // BAD_USER_INPUT
	do(h.who, submitMutation, map[string]any{"id": a1.ID, "answers": answers(t, env, a1, 3)})
	do(h.who, submitMutation, map[string]any{"id": a1.ID, "answers": answers(t, env, a1, 3)}) // ALREADY_SUBMITTED
	a2 := decodeStart(do(h.who, startMutation, startVars))
	do(h.who, submitMutation, map[string]any{"id": a2.ID, "answers": answers(t, env, a2, len(a2.Questions))})
	full := `query($id: ID!) { node(id: $id) { ... on AssessmentAttempt { ` + attemptFields + `
  earnedCertification { ` + earnedFields + `
    attempts { ` + attemptFields + ` } renewals { attempt { ` + attemptFields + ` } } } } } }`
	for _, who := range []apitest.Identity{h.who, apitest.Support("agent")} {
		for _, id := range []string{a1.ID, a2.ID} {
			do(who, full, map[string]any{"id": id})
		}
	}
	byProfile := `query($mcid: String!, $e: ID!) {
  certificationProfile(mcid: $mcid) { certifications(first: 3) { nodes { ` + earnedFields + `
    attempts { ` + attemptFields + ` } renewals { attempt { ` + attemptFields + ` } } } } }
  node(id: $e) { ... on EarnedCertification { ` + earnedFields + ` attempts { ` + attemptFields + ` } } } }`
	for _, who := range []apitest.Identity{h.who, apitest.Support("agent")} {
		if r := do(who, byProfile, map[string]any{"mcid": h.mcid, "e": opaque("EarnedCertification", e)}); len(r.Errors) > 0 {
			t.Fatalf("profile query: %s", r.Raw)
		}
	}
	do(h.who, `{ a: __type(name: "AssessmentChoice") { fields { name } } q: __type(name: "AssessmentQuestion") { fields { name } } }`, nil)

	correct := map[string]bool{}
	for _, a := range []attemptOut{a1, a2} {
		var ids []string
		if err := env.DB.Select(&ids, `SELECT c.id::text FROM attempt_questions aq
JOIN assessment_choices c ON c.question_id = aq.question_id AND c.correct WHERE aq.attempt_id = $1`, unopaque(t, a.ID)); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			correct[id] = true
		}
	}
	// As the API served them: how many questions show a correct choice first.
	firstIsCorrect, served := 0, 0
	for _, a := range []attemptOut{a1, a2} {
		for _, q := range a.Questions {
			served++
			if correct[q.Choices[0].ID] {
				firstIsCorrect++
			}
		}
	}
	if len(correct) == 0 {
		t.Fatal("no correct choices found: the scan would prove nothing")
	}
	// The shipped bank lists correct choices first; served order must not.
	var bankFirstCorrect int
	if err := env.DB.Get(&bankFirstCorrect, `SELECT count(*) FROM assessment_choices WHERE position = 1 AND correct`); err != nil || bankFirstCorrect == 0 {
		t.Fatalf("expected the bank to list correct choices first (%d, %v)", bankFirstCorrect, err)
	}
	if firstIsCorrect == served {
		t.Errorf("every served question shows a correct choice first (%d of %d): choices are not shuffled", firstIsCorrect, served)
	}

	seenAsChoice := 0
	for i, raw := range raws {
		if strings.Contains(strings.ToLower(string(raw)), "correct") {
			t.Errorf("response %d mentions correctness: %s", i, raw)
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		walk(doc, nil, func(path []string, s string) {
			if !correct[s] {
				return
			}
			n := len(path)
			if n >= 3 && path[n-1] == "id" && path[n-3] == "choices" {
				seenAsChoice++
				return
			}
			t.Errorf("response %d shows correct choice %s at %s", i, s, strings.Join(path, "."))
		})
		// A correct id never appears outside the JSON values we walked (e.g. in a message).
		for id := range correct {
			if strings.Count(string(raw), id) != countValue(doc, id) {
				t.Errorf("response %d carries correct choice %s in text", i, id)
			}
		}
	}
	if seenAsChoice == 0 {
		t.Fatal("no served choice seen in any response: the scan would prove nothing")
	}
}

func walk(v any, path []string, visit func(path []string, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			walk(vv, append(path, k), visit)
		}
	case []any:
		for i, vv := range x {
			walk(vv, append(path, fmt.Sprint(i)), visit)
		}
	case string:
		visit(path, x)
	}
}

func countValue(v any, s string) int {
	n := 0
	walk(v, nil, func(_ []string, x string) {
		if x == s {
			n++
		}
	})
	return n
}
