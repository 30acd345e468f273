package renewal_test

import (
	"slices"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/catalog/seed"
	"github.com/recert/recert/internal/renewal"
)

// TestShippedAssessmentInJapanese (issue 13 part 1): the shipped Azure Administrator assessment
// offers en and ja; an attempt started in ja serves the Japanese prompts and choices of the
// questions served, and scores exactly like an English attempt served the same questions and
// answered the same way.
func TestShippedAssessmentInJapanese(t *testing.T) {
	env := apitest.New(t)
	var cert struct {
		Certification struct{ RenewalAssessment struct{ Languages []string } }
	}
	env.MustDo(apitest.Anonymous, `query($c: String!) { certification(code: $c) { renewalAssessment { languages } } }`,
		map[string]any{"c": azureAdmin}, &cert)
	if got := cert.Certification.RenewalAssessment.Languages; !slices.Equal(got, []string{"en", "ja"}) {
		t.Fatalf("got languages %v, want [en ja]", got)
	}
	shipped, err := seed.Load()
	if err != nil {
		t.Fatal(err)
	}
	bank := shipped.Certification(azureAdmin).RenewalAssessment.Questions

	hanako, ada := newHolder(t, env, "hanako"), newHolder(t, env, "ada")
	hanako.link(t, env)
	ada.link(t, env)
	eJA := hanako.earn(t, env, azureAdmin, "2020-06-15", "")
	eEN := ada.earn(t, env, azureAdmin, "2020-06-15", "")
	env.Server.Resolver.Renewals.SetRand(renewal.Seeded(13))
	ja := start(t, env, hanako.who, eJA, "ja")
	env.Server.Resolver.Renewals.SetRand(renewal.Seeded(13))
	en := start(t, env, ada.who, eEN, "en")
	if ja.Language != "ja" || len(ja.Questions) != len(en.Questions) || len(ja.Questions) == 0 {
		t.Fatalf("got %s and %s, want the same number of questions in ja and en", asJSON(ja), asJSON(en))
	}
	for i, q := range en.Questions {
		k := slices.IndexFunc(bank, func(b seed.Question) bool { return b.Prompt == q.Prompt })
		if k < 0 {
			t.Fatalf("English attempt served %q, not a shipped prompt", q.Prompt)
		}
		want := bank[k].Translations[0]
		got := ja.Questions[i]
		if got.ID != q.ID || got.Prompt != want.Prompt {
			t.Errorf("question %d: got %s %q, want %s %q", i, got.ID, got.Prompt, q.ID, want.Prompt)
		}
		for j, c := range q.Choices {
			pos := slices.IndexFunc(bank[k].Choices, func(b seed.Choice) bool { return b.Text == c.Text })
			if got.Choices[j].ID != c.ID || got.Choices[j].Text != want.Choices[pos] {
				t.Errorf("question %d choice %d: got %s %q, want %s %q", i, j, got.Choices[j].ID, got.Choices[j].Text, c.ID, want.Choices[pos])
			}
		}
	}
	ans := answers(t, env, ja, 6) // the same question and choice ids answer both attempts
	rJA := submit(t, env, hanako.who, ja.ID, ans)
	rEN := submit(t, env, ada.who, en.ID, ans)
	if *rJA.Attempt.Score != 75 || !*rJA.Attempt.Passed || *rEN.Attempt.Score != *rJA.Attempt.Score || *rEN.Attempt.Passed != *rJA.Attempt.Passed {
		t.Errorf("got ja %s and en %s, want both 75 and passed", asJSON(rJA.Attempt), asJSON(rEN.Attempt))
	}
}
