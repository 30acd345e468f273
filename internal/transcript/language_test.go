package transcript_test

import (
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// TestRecordExamResultLanguage (issue 13 part 1): a result in a language its exam is not
// offered in is BAD_USER_INPUT naming the field, and nothing is stored; one of the exam's
// languages is recorded in the exam's spelling.
func TestRecordExamResultLanguage(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "yuki", "Yuki Example")
	in := resultInput(p.MCID, "MS-203", "2021-02-15T10:30:00Z", "pearson-lang-1")
	in["language"] = "de" // MS-203 is offered in en, ja, ko and zh-Hans
	err := env.MustFail(apitest.ExamDelivery(), recordMutation, map[string]any{"in": in}, "BAD_USER_INPUT")
	if err.Extensions["field"] != "language" {
		t.Errorf("got extensions %v, want field language", err.Extensions)
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM exam_results`); err != nil || n != 0 {
		t.Fatalf("got %d results (%v), want none stored", n, err)
	}
	in["language"] = "ZH-hans"
	record(t, env, in)
	var lang string
	if err := env.DB.Get(&lang, `SELECT language FROM exam_results WHERE external_id = 'pearson-lang-1'`); err != nil || lang != "zh-Hans" {
		t.Errorf("got language %q (%v), want zh-Hans", lang, err)
	}
}
