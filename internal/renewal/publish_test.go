package renewal_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// TestPublishRenewalAssessment: admin only, validated, the next version number with defaults,
// the certification's languages, learning modules, and an audit event without the answers.
func TestPublishRenewalAssessment(t *testing.T) {
	env := apitest.New(t)
	valid := map[string]any{"certificationCode": azureAdmin, "questions": bank("Admin", 3),
		"learningModules": []map[string]any{{"title": "Manage identities", "url": "https://learn.microsoft.com/training/modules/x"}}}

	t.Run("UNAUTHENTICATED without a token", func(t *testing.T) {
		env.MustFail(apitest.Anonymous, publishMutation, map[string]any{"in": valid}, "UNAUTHENTICATED")
	})
	for _, who := range []apitest.Identity{apitest.Learner("learner"), apitest.Support("agent"), apitest.ExamDelivery()} {
		t.Run("FORBIDDEN for "+who.Subject, func(t *testing.T) {
			env.MustFail(who, publishMutation, map[string]any{"in": valid}, "FORBIDDEN")
		})
	}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range valid {
			out[kk] = vv
		}
		out[k] = v
		return out
	}
	t.Run("NOT_FOUND for an unknown certification", func(t *testing.T) {
		env.MustFail(apitest.Admin("a"), publishMutation, map[string]any{"in": with("certificationCode", "no-such-cert")}, "NOT_FOUND")
	})
	t.Run("NOT_RENEWABLE for fundamentals", func(t *testing.T) {
		env.MustFail(apitest.Admin("a"), publishMutation, map[string]any{"in": with("certificationCode", "azure-fundamentals")}, "NOT_RENEWABLE")
	})
	withBank := func(questions []map[string]any, served int) map[string]any {
		out := with("questions", questions)
		out["questionsPerAttempt"] = served
		return out
	}
	noCorrect := bank("X", 2)
	noCorrect[1] = map[string]any{"prompt": "Nothing right", "choices": []map[string]any{
		{"text": "a", "correct": false}, {"text": "b", "correct": false}}}
	blank := bank("X", 2)
	blank[0] = map[string]any{"prompt": "   ", "choices": []map[string]any{{"text": "a", "correct": true}, {"text": "b", "correct": false}}}
	invalid := map[string]map[string]any{
		"no questions":                              with("questions", []map[string]any{}),
		"a question with no correct choice":         with("questions", noCorrect),
		"a blank prompt":                            with("questions", blank),
		"passingScore 0":                            with("passingScore", 0),
		"passingScore 101":                          with("passingScore", 101),
		"more served than the bank holds":           with("questionsPerAttempt", 4),
		"a module with a relative url":              with("learningModules", []map[string]any{{"title": "t", "url": "/training"}}),
		"21 learning modules":                       with("learningModules", modules(21)),
		"51 questions served an attempt":            withBank(bank("X", 60), 51),
		"a translation with fewer choices":          with("questions", withTranslation(bank("X", 3), 1, "ja", "X", "一", "二")),
		"a translation into a language no exam has": with("questions", withTranslation(bank("X", 3), 0, "sv", "X", "a", "b", "c")),
		"a malformed translation language":          with("questions", withTranslation(bank("X", 3), 0, "not a tag!", "X", "a", "b", "c")),
		"an English translation":                    with("questions", withTranslation(bank("X", 3), 0, "en", "X", "a", "b", "c")),
		"a language translated twice": with("questions", withTranslation(withTranslation(bank("X", 3), 0, "ja", "X", "一", "二", "三"),
			0, "JA", "Y", "一", "二", "三")),
		"a translation repeating a choice": with("questions", withTranslation(bank("X", 3), 0, "ja", "X", "一", "一", "三")),
	}
	for name, in := range invalid {
		t.Run("BAD_USER_INPUT for "+name, func(t *testing.T) {
			env.MustFail(apitest.Admin("a"), publishMutation, map[string]any{"in": in}, "BAD_USER_INPUT")
		})
	}
	var versions int
	if err := env.DB.Get(&versions, `SELECT count(*) FROM assessment_versions`); err != nil || versions != 19 {
		t.Fatalf("refusals stored something: got %d versions (%v), want the shipped 19", versions, err)
	}

	t.Run("publishes the next version with defaults, in English when it has English text only", func(t *testing.T) {
		got := publish(t, env, valid)
		if got.Version != 2 || got.PassingScore != 60 || got.QuestionCount != 3 || got.Certification.Code != azureAdmin {
			t.Fatalf("got %s, want version 2, passing 60, 3 per attempt", asJSON(got))
		}
		if strings.Join(got.Languages, ",") != "en" {
			t.Errorf("got languages %v, want en: the only language it has text in", got.Languages)
		}
		if len(got.LearningModules) != 1 || got.LearningModules[0].Title != "Manage identities" {
			t.Errorf("got modules %s, want the one given", asJSON(got.LearningModules))
		}
		var cert struct {
			Certification struct{ RenewalAssessment publishedOut }
		}
		env.MustDo(apitest.Anonymous, `query($c: String!) { certification(code: $c) { renewalAssessment { id version passingScore questionCount } } }`,
			map[string]any{"c": azureAdmin}, &cert)
		if cert.Certification.RenewalAssessment.Version != 2 || cert.Certification.RenewalAssessment.ID != got.ID {
			t.Errorf("catalog shows %s, want version 2 current", asJSON(cert.Certification.RenewalAssessment))
		}
		again := publish(t, env, with("passingScore", 80))
		if again.Version != 3 || again.PassingScore != 80 {
			t.Errorf("got %s, want version 3 with passing 80", asJSON(again))
		}
		var action, actor, details string
		if err := env.DB.QueryRow(`SELECT action, actor, details::text FROM audit_events ORDER BY occurred_at DESC, id LIMIT 1`).
			Scan(&action, &actor, &details); err != nil {
			t.Fatal(err)
		}
		if action != "catalog.publishRenewalAssessment" || !strings.HasSuffix(actor, "|catalog-admin") {
			t.Errorf("got audit %s by %s, want catalog.publishRenewalAssessment by the admin", action, actor)
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(details), &d)
		if d["certificationCode"] != azureAdmin || d["bankSize"] != float64(3) || strings.Contains(strings.ToLower(details), "correct") {
			t.Errorf("got audit details %s, want code and counts, nothing about answers", details)
		}
	})
	t.Run("the first version of a certification without an assessment is 1", func(t *testing.T) {
		insertCertification(t, env, "iot-developer-specialty", "SPECIALTY", "2019-01-07")
		got := publish(t, env, map[string]any{"certificationCode": "iot-developer-specialty", "questions": bank("IoT", 12),
			"passingScore": 70})
		if got.Version != 1 || got.QuestionCount != 10 || got.PassingScore != 70 || strings.Join(got.Languages, ",") != "en" {
			t.Errorf("got %s, want version 1, 10 of 12 served, passing 70, en", asJSON(got))
		}
	})
}

// TestNewVersionMidCycle: an attempt in progress keeps its version (questions and passing
// score); the next attempt gets the new version.
func TestNewVersionMidCycle(t *testing.T) {
	env := apitest.New(t)
	keeps := newHolder(t, env, "keeps")
	keeps.link(t, env)
	moves := newHolder(t, env, "moves")
	moves.link(t, env)
	e1 := keeps.earn(t, env, azureAdmin, "2020-06-15", "")
	e2 := moves.earn(t, env, azureAdmin, "2020-06-15", "")
	a1 := start(t, env, keeps.who, e1, "en")
	a2 := start(t, env, moves.who, e2, "en")

	v2 := publish(t, env, map[string]any{"certificationCode": azureAdmin, "questions": bank("V2", 10),
		"passingScore": 100, "questionsPerAttempt": 5})
	if v2.Version != 2 {
		t.Fatalf("got version %d, want 2", v2.Version)
	}

	var node attemptNodeOut
	env.MustDo(keeps.who, attemptNode, map[string]any{"id": a1.ID}, &node)
	if node.Node.AssessmentVersion != 1 || len(node.Node.Questions) != 8 || asJSON(node.Node.Questions) != asJSON(a1.Questions) {
		t.Fatalf("attempt in progress: got version %d with %d questions, want version 1 and the questions first served",
			node.Node.AssessmentVersion, len(node.Node.Questions))
	}
	// 5 of 8 is 62: a pass under version 1's 60, a failure under version 2's 100.
	if r := submit(t, env, keeps.who, a1.ID, answers(t, env, a1, 5)); *r.Attempt.Score != 62 || !*r.Attempt.Passed {
		t.Fatalf("got %s, want 62 and passed against version 1", asJSON(r.Attempt))
	}

	submit(t, env, moves.who, a2.ID, answers(t, env, a2, 0))
	b := start(t, env, moves.who, e2, "en")
	if b.AssessmentVersion != 2 || len(b.Questions) != 5 {
		t.Fatalf("next attempt: got version %d with %d questions, want version 2 with 5", b.AssessmentVersion, len(b.Questions))
	}
	for _, q := range b.Questions {
		if !strings.HasPrefix(q.Prompt, "V2 question") {
			t.Fatalf("got question %q, want one of version 2's bank", q.Prompt)
		}
	}
	if r := submit(t, env, moves.who, b.ID, answers(t, env, b, 4)); *r.Attempt.Score != 80 || *r.Attempt.Passed {
		t.Fatalf("got %s, want 80 and failed against version 2's 100", asJSON(r.Attempt))
	}
}

func modules(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"title": fmt.Sprintf("Module %d", i), "url": fmt.Sprintf("https://learn.example/m%d", i)}
	}
	return out
}

// withTranslation adds a translation into lang to question i of questions.
func withTranslation(questions []map[string]any, i int, lang, prompt string, choices ...string) []map[string]any {
	q := questions[i]
	ts, _ := q["translations"].([]map[string]any)
	q["translations"] = append(ts, map[string]any{"language": lang, "prompt": prompt, "choices": choices})
	return questions
}

// translate gives every question of questions a text in each of langs: the prompt and choices
// prefixed with the tag.
func translate(questions []map[string]any, langs ...string) []map[string]any {
	for i, q := range questions {
		for _, l := range langs {
			var choices []string
			for _, c := range q["choices"].([]map[string]any) {
				choices = append(choices, l+": "+c["text"].(string))
			}
			withTranslation(questions, i, l, l+": "+q["prompt"].(string), choices...)
		}
	}
	return questions
}

// TestPublishTranslatedVersion: a version is offered in English and each language every
// question is translated into (an incomplete translation is not offered); an attempt in a
// language serves that language's text, and scores like an English one.
func TestPublishTranslatedVersion(t *testing.T) {
	env := apitest.New(t)
	questions := translate(bank("Msg", 10), "ja", "ko")
	withTranslation(questions, 0, "zh-Hans", "zh: Msg question A", "zh: 1", "zh: 2", "zh: 3") // one question only
	got := publish(t, env, map[string]any{"certificationCode": messaging, "questions": questions, "questionsPerAttempt": 4})
	if strings.Join(got.Languages, ",") != "en,ja,ko" {
		t.Fatalf("got languages %v, want en,ja,ko (MS-203's languages with complete text, not the incomplete zh-Hans)", got.Languages)
	}
	h := newHolder(t, env, "kenji")
	h.link(t, env)
	e := h.earn(t, env, messaging, "2020-06-15", "")
	err := startFails(t, env, h.who, e, "zh-Hans", "LANGUAGE_NOT_AVAILABLE")
	if got := err.Extensions["availableLanguages"]; asJSON(got) != `["en","ja","ko"]` {
		t.Errorf("got availableLanguages %v, want [en ja ko]", got)
	}
	a := start(t, env, h.who, e, "KO")
	if a.Language != "ko" || len(a.Questions) != 4 {
		t.Fatalf("got %s, want 4 questions in ko", asJSON(a))
	}
	for _, q := range a.Questions {
		if !strings.HasPrefix(q.Prompt, "ko: Msg question") {
			t.Errorf("got prompt %q, want the Korean text", q.Prompt)
		}
		for _, c := range q.Choices {
			if !strings.HasPrefix(c.Text, "ko: ") || !strings.HasSuffix(c.Text, " option") {
				t.Errorf("got choice %q, want the Korean text of a choice", c.Text)
			}
		}
	}
	if r := submit(t, env, h.who, a.ID, answers(t, env, a, 3)); *r.Attempt.Score != 75 || !*r.Attempt.Passed {
		t.Errorf("got %s, want 75 and passed (3 of 4 right)", asJSON(r.Attempt))
	}
}
