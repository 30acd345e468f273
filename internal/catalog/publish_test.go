package catalog

import (
	"slices"
	"testing"

	"github.com/recert/recert/internal/apperr"
)

func TestValidateAssessment(t *testing.T) {
	q := func(prompt string, choices ...Choice) Question {
		return Question{Prompt: prompt, Choices: choices}
	}
	right := func(s string) Choice { return Choice{Text: s, Correct: true} }
	wrong := func(s string) Choice { return Choice{Text: s} }
	good := q("Which?", right("a"), wrong("b"))
	bank := func(n int) []Question {
		out := make([]Question, n)
		for i := range out {
			out[i] = good
		}
		return out
	}
	cases := []struct {
		name string
		in   NewAssessment
		ok   bool
		pass int
		per  int
	}{
		{"defaults: 60 and min(10, bank)", NewAssessment{Questions: bank(4)}, true, 60, 4},
		{"defaults cap at 10 served", NewAssessment{Questions: bank(14)}, true, 60, 10},
		{"explicit settings", NewAssessment{Questions: bank(5), PassingScore: ptr(100), QuestionsPerAttempt: ptr(5)}, true, 100, 5},
		{"no questions", NewAssessment{}, false, 0, 0},
		{"passing score 0", NewAssessment{Questions: bank(3), PassingScore: ptr(0)}, false, 0, 0},
		{"passing score 101", NewAssessment{Questions: bank(3), PassingScore: ptr(101)}, false, 0, 0},
		{"more served than the bank holds", NewAssessment{Questions: bank(3), QuestionsPerAttempt: ptr(4)}, false, 0, 0},
		{"zero served", NewAssessment{Questions: bank(3), QuestionsPerAttempt: ptr(0)}, false, 0, 0},
		{"blank prompt", NewAssessment{Questions: []Question{q("  ", right("a"), wrong("b"))}}, false, 0, 0},
		{"no correct choice", NewAssessment{Questions: []Question{q("x", wrong("a"), wrong("b"))}}, false, 0, 0},
		{"every choice correct", NewAssessment{Questions: []Question{q("x", right("a"), right("b"))}}, false, 0, 0},
		{"one choice", NewAssessment{Questions: []Question{q("x", right("a"))}}, false, 0, 0},
		{"blank choice", NewAssessment{Questions: []Question{q("x", right("a"), wrong(" "))}}, false, 0, 0},
		{"repeated choice", NewAssessment{Questions: []Question{q("x", right("a"), wrong("A"))}}, false, 0, 0},
		{"module without https url", NewAssessment{Questions: bank(1), Modules: []Module{{Title: "m", URL: "ftp://x"}}}, false, 0, 0},
		{"module without title", NewAssessment{Questions: bank(1), Modules: []Module{{Title: "", URL: "https://learn.example/m"}}}, false, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := ValidateAssessment(c.in)
			if !c.ok {
				if apperr.CodeOf(err) != apperr.BadUserInput {
					t.Fatalf("got %v, want BAD_USER_INPUT", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.PassingScore != c.pass || v.QuestionsPerAttempt != c.per {
				t.Fatalf("got passing %d per attempt %d, want %d %d", v.PassingScore, v.QuestionsPerAttempt, c.pass, c.per)
			}
		})
	}
	v, _ := ValidateAssessment(NewAssessment{Questions: []Question{q("x", right("a"), right("b"), wrong("c"))}})
	if !v.Questions[0].MultipleAnswers {
		t.Errorf("two correct choices: got multipleAnswers false, want true")
	}
}

func TestCompleteLanguages(t *testing.T) {
	exams := []string{"en", "ja", "de", "zh-Hans"}
	cases := []struct {
		translated [][]string
		want       []string
	}{
		{[][]string{nil, nil}, []string{"en"}},
		{[][]string{{"ja", "de"}, {"ja"}}, []string{"en", "ja"}},                      // de incomplete
		{[][]string{{"zh-hans", "fr"}, {"ZH-Hans", "fr"}}, []string{"en", "zh-Hans"}}, // fr: no exam
	}
	for _, c := range cases {
		if got := CompleteLanguages(exams, c.translated); !slices.Equal(got, c.want) {
			t.Errorf("CompleteLanguages(%v) = %v, want %v", c.translated, got, c.want)
		}
	}
	if got := CompleteLanguages([]string{"ja"}, [][]string{{"de"}}); len(got) != 0 {
		t.Errorf("got %v, want none: no exam language has text", got)
	}
}
