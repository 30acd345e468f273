// Package seed ships the initial catalog of docs/domain.md ("Initial catalog (data to ship)"):
// the exams, the 19 renewable certifications whose renewal assessments were available in
// March 2021 (each with its learning modules and a question bank), and the 4 fundamentals.
//
// The data lives in catalog.json, embedded in the binary. Load decodes it strictly and
// validates it; the result is a fresh value on every call, so callers may modify it.
package seed

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"

	"github.com/recert/recert/internal/catalog"
)

//go:embed catalog.json
var catalogJSON []byte

// questionsJA is the Japanese text of the shipped question banks: per certification code, one
// entry per question in bank order, its choices in the order of the question's choices. A
// certification missing from it is offered in English only.
//
//go:embed questions_ja.json
var questionsJA []byte

// Certification levels (docs/domain.md "Catalog").
const (
	LevelFundamentals = "FUNDAMENTALS"
	LevelAssociate    = "ASSOCIATE"
	LevelExpert       = "EXPERT"
	LevelSpecialty    = "SPECIALTY"
)

// DateLayout is the layout of every date in the catalog (YYYY-MM-DD).
const DateLayout = time.DateOnly

// MinQuestions is the smallest question bank Validate accepts.
const MinQuestions = 10

// RequiredLanguages are the languages every exam, certification and assessment must offer.
var RequiredLanguages = []string{"en", "ja"}

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("seed: invalid catalog")

// Catalog is the whole initial catalog: exams and certifications (with their assessments).
type Catalog struct {
	Exams          []Exam          `json:"exams"`
	Certifications []Certification `json:"certifications"`
}

// Exam is a certification exam, e.g. AZ-104.
type Exam struct {
	// Code is the exam code, e.g. "AZ-104".
	Code string `json:"code"`
	// Title is the exam's public title.
	Title string `json:"title"`
	// Languages are the languages the exam is delivered in (BCP 47 tags).
	Languages []string `json:"languages"`
	// RetiredOn is the date the exam was retired (YYYY-MM-DD), nil while it is offered.
	RetiredOn *string `json:"retiredOn,omitempty"`
	// Supersedes is the code of the older exam this one replaces (AZ-104 supersedes AZ-103).
	Supersedes *string `json:"supersedes,omitempty"`
}

// Certification is a certification of the catalog.
type Certification struct {
	// Code is the stable slug, e.g. "azure-administrator-associate".
	Code string `json:"code"`
	// Name is the public name, e.g. "Microsoft Certified: Azure Administrator Associate".
	Name string `json:"name"`
	// Level is one of LevelFundamentals, LevelAssociate, LevelExpert, LevelSpecialty.
	Level string `json:"level"`
	// ReleasedOn is the date the certification came on the market (YYYY-MM-DD).
	ReleasedOn string `json:"releasedOn"`
	// RetiredOn is the date the certification was retired (YYYY-MM-DD), nil while offered.
	RetiredOn *string `json:"retiredOn,omitempty"`
	// Languages are the languages the certification is offered in.
	Languages []string `json:"languages"`
	// RequirementPaths lists the ways to earn the certification: passing every exam of any
	// one path earns it.
	RequirementPaths [][]string `json:"requirementPaths"`
	// Prerequisites are certification codes of which any one must be held (not expired) on
	// the day this certification is earned; empty when there is none.
	Prerequisites []string `json:"prerequisites"`
	// RenewalAssessment is the renewal assessment; nil for fundamentals.
	RenewalAssessment *Assessment `json:"renewalAssessment,omitempty"`
}

// Assessment is the first version of a certification's renewal assessment.
type Assessment struct {
	// PassingScore is the percentage of correctly answered questions needed to pass.
	PassingScore int `json:"passingScore"`
	// QuestionsPerAttempt is how many questions of the bank one attempt serves.
	QuestionsPerAttempt int `json:"questionsPerAttempt"`
	// Languages bound the languages the assessment is offered in: it is offered in those it
	// has complete text for (OfferedLanguages).
	Languages []string `json:"languages"`
	// LearningModules are the free self-paced modules linked for preparation.
	LearningModules []Module `json:"learningModules"`
	// Questions is the question bank.
	Questions []Question `json:"questions"`
}

// Module is a self-paced learning module.
type Module struct {
	// Title is the module title.
	Title string `json:"title"`
	// URL is the absolute https address of the module.
	URL string `json:"url"`
}

// Question is one question of an assessment's bank.
type Question struct {
	// Prompt is the question text.
	Prompt string `json:"prompt"`
	// Choices are the possible answers, in display order.
	Choices []Choice `json:"choices"`
	// Translations are the question's text in other languages (from the questions_<lang>.json
	// files, never catalog.json).
	Translations []Translation `json:"-"`
}

// Translation is a question's text in one more language: the prompt, and the choice texts in
// the order of the question's choices.
type Translation struct {
	Language string   `json:"-"`
	Prompt   string   `json:"prompt"`
	Choices  []string `json:"choices"`
}

// OfferedLanguages are the languages of a.Languages that every question has text in: English
// and each language all questions are translated into (catalog.CompleteLanguages).
func (a *Assessment) OfferedLanguages() []string {
	translated := make([][]string, len(a.Questions))
	for i, q := range a.Questions {
		for _, t := range q.Translations {
			translated[i] = append(translated[i], t.Language)
		}
	}
	return catalog.CompleteLanguages(a.Languages, translated)
}

// Choice is one possible answer to a question.
type Choice struct {
	// Text is the answer text.
	Text string `json:"text"`
	// Correct reports whether the choice must be selected for a right answer.
	Correct bool `json:"correct"`
}

// MultipleAnswer reports whether more than one choice of q is correct.
func (q Question) MultipleAnswer() bool {
	n := 0
	for _, c := range q.Choices {
		if c.Correct {
			n++
		}
	}
	return n > 1
}

// Load decodes the embedded catalog (rejecting unknown fields) and validates it.
func Load() (*Catalog, error) {
	return parse(catalogJSON)
}

// parse decodes data strictly and validates the result.
func parse(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("seed: decode catalog.json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("seed: decode catalog.json: trailing data after the catalog")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.translate("ja", questionsJA); err != nil {
		return nil, err
	}
	return &c, nil
}

// translate adds the translations into lang of data (questions_<lang>.json: certification
// code to the questions' text in bank order) to the question banks. Every certification it
// names must be in the catalog with an assessment, with one entry per question and one choice
// text per choice, none empty; certifications it does not name stay untranslated.
func (c *Catalog) translate(lang string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var byCert map[string][]Translation
	if err := dec.Decode(&byCert); err != nil {
		return fmt.Errorf("seed: decode questions_%s.json: %w", lang, err)
	}
	v := &validator{}
	for code, texts := range byCert {
		at := fmt.Sprintf("questions_%s.json %q", lang, code)
		cert := c.Certification(code)
		if cert == nil || cert.RenewalAssessment == nil {
			v.add(at, "no such certification with a renewal assessment")
			continue
		}
		qs := cert.RenewalAssessment.Questions
		if len(texts) != len(qs) {
			v.add(at, "has %d questions, the bank %d", len(texts), len(qs))
			continue
		}
		for i, t := range texts {
			if t.Prompt == "" || len(t.Choices) != len(qs[i].Choices) || slices.Contains(t.Choices, "") {
				v.add(at, "question %d needs a prompt and %d non-empty choice texts", i, len(qs[i].Choices))
				continue
			}
			t.Language = lang
			qs[i].Translations = append(qs[i].Translations, t)
		}
	}
	if len(v.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalid, errors.Join(v.problems...))
}

// Exam returns the exam with the given code, or nil.
func (c *Catalog) Exam(code string) *Exam {
	for i := range c.Exams {
		if c.Exams[i].Code == code {
			return &c.Exams[i]
		}
	}
	return nil
}

// Certification returns the certification with the given code, or nil.
func (c *Catalog) Certification(code string) *Certification {
	for i := range c.Certifications {
		if c.Certifications[i].Code == code {
			return &c.Certifications[i]
		}
	}
	return nil
}

// Validate checks the catalog's consistency and returns every problem found, joined, wrapping
// ErrInvalid; nil when the catalog is sound. It checks: unique exam and certification codes;
// requirement paths that name known exams; prerequisites that name known certifications
// without cycles; an assessment for every certification but fundamentals, and none for them;
// banks of at least 10 distinct questions and at least QuestionsPerAttempt; questions with at
// least one correct and one incorrect choice; languages that include en and ja; dates that
// parse; supersedes naming a known exam.
func (c *Catalog) Validate() error {
	v := &validator{}
	exams := map[string]bool{}
	for i, e := range c.Exams {
		at := fmt.Sprintf("exam %q", e.Code)
		if e.Code == "" {
			at = fmt.Sprintf("exam #%d", i)
			v.add(at, "empty code")
		} else if exams[e.Code] {
			v.add(at, "duplicate code")
		}
		exams[e.Code] = true
		if e.Title == "" {
			v.add(at, "empty title")
		}
		v.languages(at, e.Languages)
		v.optionalDate(at, "retiredOn", e.RetiredOn)
	}
	for _, e := range c.Exams {
		if e.Supersedes == nil {
			continue
		}
		at := fmt.Sprintf("exam %q", e.Code)
		switch s := *e.Supersedes; {
		case s == e.Code:
			v.add(at, "supersedes itself")
		case !exams[s]:
			v.add(at, "supersedes unknown exam %q", s)
		}
	}

	certs := map[string]*Certification{}
	for i := range c.Certifications {
		cert := &c.Certifications[i]
		at := fmt.Sprintf("certification %q", cert.Code)
		if cert.Code == "" {
			at = fmt.Sprintf("certification #%d", i)
			v.add(at, "empty code")
		} else if certs[cert.Code] != nil {
			v.add(at, "duplicate code")
		}
		certs[cert.Code] = cert
	}
	for i := range c.Certifications {
		cert := &c.Certifications[i]
		at := fmt.Sprintf("certification %q", cert.Code)
		if cert.Name == "" {
			v.add(at, "empty name")
		}
		switch cert.Level {
		case LevelFundamentals, LevelAssociate, LevelExpert, LevelSpecialty:
		default:
			v.add(at, "unknown level %q", cert.Level)
		}
		released, okReleased := v.date(at, "releasedOn", cert.ReleasedOn)
		if retired, ok := v.optionalDate(at, "retiredOn", cert.RetiredOn); ok && okReleased && retired.Before(released) {
			v.add(at, "retiredOn %s is before releasedOn %s", *cert.RetiredOn, cert.ReleasedOn)
		}
		v.languages(at, cert.Languages)

		if len(cert.RequirementPaths) == 0 {
			v.add(at, "no requirement path")
		}
		for p, path := range cert.RequirementPaths {
			if len(path) == 0 {
				v.add(at, "requirement path %d is empty", p)
			}
			seen := map[string]bool{}
			for _, code := range path {
				if !exams[code] {
					v.add(at, "requirement path %d names unknown exam %q", p, code)
				}
				if seen[code] {
					v.add(at, "requirement path %d names exam %q twice", p, code)
				}
				seen[code] = true
			}
		}
		seen := map[string]bool{}
		for _, code := range cert.Prerequisites {
			if certs[code] == nil {
				v.add(at, "prerequisite names unknown certification %q", code)
			}
			if seen[code] {
				v.add(at, "prerequisite %q listed twice", code)
			}
			seen[code] = true
		}

		switch a := cert.RenewalAssessment; {
		case cert.Level == LevelFundamentals && a != nil:
			v.add(at, "fundamentals certification has a renewal assessment")
		case cert.Level != LevelFundamentals && a == nil:
			v.add(at, "renewable certification has no renewal assessment")
		case a != nil:
			v.assessment(at+" renewal assessment", a, cert.Languages)
		}
	}
	v.prerequisiteCycles(c.Certifications, certs)

	if len(v.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalid, errors.Join(v.problems...))
}

type validator struct {
	problems []error
}

func (v *validator) add(at, format string, args ...any) {
	v.problems = append(v.problems, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
}

func (v *validator) date(at, field, s string) (time.Time, bool) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		v.add(at, "%s %q is not a YYYY-MM-DD date", field, s)
		return time.Time{}, false
	}
	return t, true
}

func (v *validator) optionalDate(at, field string, s *string) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	return v.date(at, field, *s)
}

func (v *validator) languages(at string, langs []string) {
	seen := map[string]bool{}
	for _, l := range langs {
		if l == "" {
			v.add(at, "empty language")
		} else if seen[l] {
			v.add(at, "language %q listed twice", l)
		}
		seen[l] = true
	}
	for _, l := range RequiredLanguages {
		if !seen[l] {
			v.add(at, "languages do not include %q", l)
		}
	}
}

func (v *validator) assessment(at string, a *Assessment, certLangs []string) {
	if a.PassingScore < 1 || a.PassingScore > 100 {
		v.add(at, "passingScore %d is not a percentage in 1..100", a.PassingScore)
	}
	if a.QuestionsPerAttempt < 1 {
		v.add(at, "questionsPerAttempt %d is not positive", a.QuestionsPerAttempt)
	}
	v.languages(at, a.Languages)
	for _, l := range a.Languages {
		if !slices.Contains(certLangs, l) {
			v.add(at, "language %q is not a language of the certification", l)
		}
	}
	if len(a.LearningModules) == 0 {
		v.add(at, "no learning module")
	}
	for m, mod := range a.LearningModules {
		if mod.Title == "" {
			v.add(at, "learning module %d has no title", m)
		}
		if u, err := url.Parse(mod.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.add(at, "learning module %d url %q is not an absolute https URL", m, mod.URL)
		}
	}
	if n := len(a.Questions); n < MinQuestions {
		v.add(at, "question bank has %d questions, fewer than %d", n, MinQuestions)
	}
	if n := len(a.Questions); n < a.QuestionsPerAttempt {
		v.add(at, "question bank has %d questions, fewer than questionsPerAttempt %d", n, a.QuestionsPerAttempt)
	}
	prompts := map[string]bool{}
	for q, question := range a.Questions {
		qat := fmt.Sprintf("%s question %d", at, q)
		if question.Prompt == "" {
			v.add(qat, "empty prompt")
		} else if prompts[question.Prompt] {
			v.add(qat, "duplicate prompt")
		}
		prompts[question.Prompt] = true
		var correct, incorrect int
		texts := map[string]bool{}
		for ch, choice := range question.Choices {
			if choice.Text == "" {
				v.add(qat, "choice %d has empty text", ch)
			} else if texts[choice.Text] {
				v.add(qat, "choice %d duplicates another choice", ch)
			}
			texts[choice.Text] = true
			if choice.Correct {
				correct++
			} else {
				incorrect++
			}
		}
		if correct == 0 {
			v.add(qat, "no correct choice")
		}
		if incorrect == 0 {
			v.add(qat, "no incorrect choice")
		}
	}
}

// prerequisiteCycles reports every certification that is its own prerequisite, directly or
// through others.
func (v *validator) prerequisiteCycles(all []Certification, byCode map[string]*Certification) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(code string, stack []string)
	visit = func(code string, stack []string) {
		switch state[code] {
		case done:
			return
		case visiting:
			i := slices.Index(stack, code)
			cycle := append(slices.Clone(stack[i:]), code)
			v.add(fmt.Sprintf("certification %q", code), "prerequisite cycle %v", cycle)
			return
		}
		state[code] = visiting
		if cert := byCode[code]; cert != nil {
			for _, p := range cert.Prerequisites {
				visit(p, append(stack, code))
			}
		}
		state[code] = done
	}
	for _, cert := range all {
		visit(cert.Code, nil)
	}
}
