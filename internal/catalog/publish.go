package catalog

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/idem"
)

// Defaults and bounds of a published assessment version.
const (
	// DefaultPassingScore is the passing percentage when the admin gives none (docs/domain.md
	// "Renewal assessment", chosen: 60).
	DefaultPassingScore = 60
	// DefaultQuestionsPerAttempt is served per attempt when the admin gives no number (or the
	// whole bank, if smaller).
	DefaultQuestionsPerAttempt = 10
	// MaxQuestions caps a bank, MaxChoices the choices of one question, MaxTextLen a prompt,
	// choice text or module title (in characters): limits against accidental huge inputs.
	MaxQuestions = 500
	MaxChoices   = 12
	MaxTextLen   = 2000
	// MaxModules caps the learning modules of a version, MaxQuestionsPerAttempt the questions
	// an attempt serves (the cost model prices AssessmentAttempt.questions by it).
	MaxModules             = 20
	MaxQuestionsPerAttempt = 50
)

// PublishAction is the audit action of a published version.
const PublishAction = "catalog.publishRenewalAssessment"

// NewAssessment is what an admin publishes: the bank with its correct choices, the settings
// (nil means the default) and the learning modules.
type NewAssessment struct {
	CertificationCode   string
	PassingScore        *int
	QuestionsPerAttempt *int
	Questions           []Question // ids are ignored
	Modules             []Module
	// IdempotencyKey, when set, makes a repeat return the first version (package idem); it
	// is not part of the request it identifies.
	IdempotencyKey *string `json:"-"`
}

// PublishScope is the idempotency key scope of PublishAssessment.
const PublishScope = "publishRenewalAssessment"

// AssessmentVersion is a validated assessment version for the store.
type AssessmentVersion struct {
	PassingScore        int
	QuestionsPerAttempt int
	Languages           []string
	Questions           []Question
	Modules             []Module
	PublishedAt         time.Time
}

// PublishAssessment stores a new version of a certification's renewal assessment: version = the
// newest + 1 (1 for a certification without one), which new attempts get at once while
// attempts in progress keep theirs. It is offered in exactly the languages it has complete
// text for (English and each language every question translates) among the languages of the
// certification's exams (docs/domain.md "Renewal assessment"). Audited as PublishAction; the
// audit records the settings, counts and languages, never the questions or answers.
// Codes: UNAUTHENTICATED, FORBIDDEN (not admin), NOT_FOUND (unknown certification code),
// NOT_RENEWABLE (fundamentals), BAD_USER_INPUT (see ValidateAssessment; a translation in a
// language none of the certification's exams is offered in; no exam language with complete text),
// IDEMPOTENCY_KEY_REUSED. With an idempotency key, a repeat by the same admin with the same
// assessment returns the first version and publishes nothing (package idem).
func (s *Service) PublishAssessment(ctx context.Context, p *auth.Principal, in NewAssessment) (Assessment, error) {
	if p == nil {
		return Assessment{}, apperr.Unauth("sign in to publish assessments")
	}
	if !p.HasRole(auth.RoleAdmin) {
		return Assessment{}, apperr.Deny("only catalog admins may publish renewal assessments")
	}
	store, err := s.admin()
	if err != nil {
		return Assessment{}, err
	}
	now := s.clock.Now()
	key, err := idem.Own(p, PublishScope, in.IdempotencyKey, now, idem.Retention, in)
	if err != nil {
		return Assessment{}, err
	}
	var out Assessment
	err = store.InAdminTx(ctx, func(tx AdminStore) error {
		var err error
		out, _, err = idem.Once(ctx, tx, key, idem.Refusals{}, func() (Assessment, error) {
			return s.publish(ctx, tx, p, in, now)
		})
		return err
	})
	return out, err
}

// publish does the work of PublishAssessment in its transaction.
func (s *Service) publish(ctx context.Context, tx AdminStore, p *auth.Principal, in NewAssessment, now time.Time) (Assessment, error) {
	cert, err := tx.CertificationByCode(ctx, strings.TrimSpace(in.CertificationCode))
	if apperr.CodeOf(err) == apperr.NotFound {
		return Assessment{}, apperr.Missing("certification")
	} else if err != nil {
		return Assessment{}, err
	}
	if !cert.Expires() {
		return Assessment{}, apperr.E(apperr.NotRenewable, "%s never expires and has no renewal assessment", cert.Code)
	}
	v, err := ValidateAssessment(in)
	if err != nil {
		return Assessment{}, err
	}
	if v.Languages, err = offeredLanguages(ctx, tx, cert, v.Questions); err != nil {
		return Assessment{}, err
	}
	v.PublishedAt = now
	out, err := tx.PublishVersion(ctx, cert.ID, v)
	if err != nil {
		return Assessment{}, fmt.Errorf("publish version: %w", err)
	}
	ev, err := audit.New(PublishAction, p.Identity(), map[string]any{
		"certificationCode": cert.Code, "version": out.Version, "passingScore": v.PassingScore,
		"questionsPerAttempt": v.QuestionsPerAttempt, "bankSize": len(v.Questions),
		"learningModules": len(v.Modules), "languages": v.Languages,
	}, now)
	if err != nil {
		return Assessment{}, err
	}
	_, err = tx.InsertAudit(ctx, ev)
	return out, err
}

// ValidateAssessment checks a new assessment and fills in the defaults.
// Codes: BAD_USER_INPUT: no questions or more than MaxQuestions; an empty prompt; fewer than
// two choices or more than MaxChoices; an empty or repeated choice text; no correct choice or
// no incorrect one; passingScore outside 1..100; questionsPerAttempt outside 1..bank size or
// above MaxQuestionsPerAttempt; a translation in a malformed or repeated language (or in
// English, the base text), with an empty or too long prompt, another number of choices than
// the question or an empty, too long or repeated choice text; more
// than MaxModules learning modules; a learning module without title or with a URL that is not
// absolute http(s).
func ValidateAssessment(in NewAssessment) (AssessmentVersion, error) {
	n := len(in.Questions)
	if n == 0 || n > MaxQuestions {
		return AssessmentVersion{}, apperr.Invalid("questions must hold 1 to %d questions", MaxQuestions)
	}
	v := AssessmentVersion{PassingScore: DefaultPassingScore, QuestionsPerAttempt: min(DefaultQuestionsPerAttempt, n)}
	if in.PassingScore != nil {
		if *in.PassingScore < 1 || *in.PassingScore > 100 {
			return AssessmentVersion{}, apperr.Invalid("passingScore must be a percentage from 1 to 100")
		}
		v.PassingScore = *in.PassingScore
	}
	if in.QuestionsPerAttempt != nil {
		if *in.QuestionsPerAttempt < 1 || *in.QuestionsPerAttempt > min(n, MaxQuestionsPerAttempt) {
			return AssessmentVersion{}, apperr.Invalid("questionsPerAttempt must be from 1 to the number of questions (%d), at most %d",
				n, MaxQuestionsPerAttempt)
		}
		v.QuestionsPerAttempt = *in.QuestionsPerAttempt
	}
	for i, q := range in.Questions {
		at := i + 1
		prompt := strings.TrimSpace(q.Prompt)
		if !textOK(prompt) {
			return AssessmentVersion{}, apperr.Invalid("question %d needs a prompt of 1 to %d characters", at, MaxTextLen)
		}
		if len(q.Choices) < 2 || len(q.Choices) > MaxChoices {
			return AssessmentVersion{}, apperr.Invalid("question %d needs 2 to %d choices", at, MaxChoices)
		}
		var right, wrong int
		seen := map[string]bool{}
		choices := make([]Choice, len(q.Choices))
		for j, c := range q.Choices {
			text := strings.TrimSpace(c.Text)
			if !textOK(text) {
				return AssessmentVersion{}, apperr.Invalid("question %d, choice %d needs a text of 1 to %d characters", at, j+1, MaxTextLen)
			}
			if seen[strings.ToLower(text)] {
				return AssessmentVersion{}, apperr.Invalid("question %d repeats a choice", at)
			}
			seen[strings.ToLower(text)] = true
			if c.Correct {
				right++
			} else {
				wrong++
			}
			choices[j] = Choice{Text: text, Correct: c.Correct}
		}
		if right == 0 || wrong == 0 {
			return AssessmentVersion{}, apperr.Invalid("question %d needs at least one correct and one incorrect choice", at)
		}
		translations, err := validateTranslations(at, q)
		if err != nil {
			return AssessmentVersion{}, err
		}
		v.Questions = append(v.Questions, Question{Prompt: prompt, MultipleAnswers: right > 1, Choices: choices,
			Translations: translations})
	}
	if len(in.Modules) > MaxModules {
		return AssessmentVersion{}, apperr.Invalid("learningModules must hold at most %d modules", MaxModules)
	}
	for i, m := range in.Modules {
		title := strings.TrimSpace(m.Title)
		u, err := url.Parse(strings.TrimSpace(m.URL))
		if !textOK(title) || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return AssessmentVersion{}, apperr.Invalid("learning module %d needs a title and an absolute http(s) URL", i+1)
		}
		v.Modules = append(v.Modules, Module{Title: title, URL: u.String()})
	}
	return v, nil
}

func textOK(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= MaxTextLen
}

// MaxTranslations caps the languages one question may be translated into.
const MaxTranslations = 50

// validateTranslations checks the translations of question number at and returns them trimmed,
// their languages canonical BCP 47 tags. Codes: BAD_USER_INPUT.
func validateTranslations(at int, q Question) ([]Translation, error) {
	if len(q.Translations) > MaxTranslations {
		return nil, apperr.Invalid("question %d has more than %d translations", at, MaxTranslations)
	}
	out := make([]Translation, 0, len(q.Translations))
	for _, t := range q.Translations {
		tag, err := language.Parse(strings.TrimSpace(t.Language))
		if err != nil || tag == language.Und {
			return nil, apperr.Invalid("question %d: %q is not a language tag such as ja", at, t.Language)
		}
		lang := tag.String()
		if strings.EqualFold(lang, BaseLanguage) {
			return nil, apperr.Invalid("question %d: the English text is the prompt and choices themselves, not a translation", at)
		}
		if slices.ContainsFunc(out, func(o Translation) bool { return o.Language == lang }) {
			return nil, apperr.Invalid("question %d is translated into %s twice", at, lang)
		}
		prompt := strings.TrimSpace(t.Prompt)
		if !textOK(prompt) {
			return nil, apperr.Invalid("question %d, %s: the prompt must be 1 to %d characters", at, lang, MaxTextLen)
		}
		if len(t.Choices) != len(q.Choices) {
			return nil, apperr.Invalid("question %d, %s: give %d choice texts, in the order of the choices", at, lang, len(q.Choices))
		}
		seen := map[string]bool{}
		choices := make([]string, len(t.Choices))
		for j, c := range t.Choices {
			c = strings.TrimSpace(c)
			if !textOK(c) || seen[strings.ToLower(c)] {
				return nil, apperr.Invalid("question %d, %s, choice %d needs a distinct text of 1 to %d characters", at, lang, j+1, MaxTextLen)
			}
			seen[strings.ToLower(c)] = true
			choices[j] = c
		}
		out = append(out, Translation{Language: lang, Prompt: prompt, Choices: choices})
	}
	return out, nil
}

// offeredLanguages returns the languages a version of cert's assessment with these questions
// is offered in: CompleteLanguages within the languages of the certification's exams (those of
// its requirement paths, in path order; the certification's own for one stored without
// paths); translations take the exams' spelling of their language.
// Codes: BAD_USER_INPUT (a translation into a language no exam has; no exam language with
// complete text).
func offeredLanguages(ctx context.Context, tx AdminStore, cert Certification, questions []Question) ([]string, error) {
	paths, err := tx.PathsByCertIDs(ctx, []uuid.UUID{cert.ID})
	if err != nil {
		return nil, fmt.Errorf("load requirement paths: %w", err)
	}
	var codes []string
	for _, path := range paths[0] {
		for _, c := range path {
			if !slices.Contains(codes, c) {
				codes = append(codes, c)
			}
		}
	}
	exams, errs := tx.ExamsByCodes(ctx, codes)
	var examLangs []string
	for i, e := range exams {
		if errs != nil && errs[i] != nil {
			return nil, fmt.Errorf("load exam %s: %w", codes[i], errs[i])
		}
		for _, l := range e.Languages {
			if !slices.ContainsFunc(examLangs, func(x string) bool { return strings.EqualFold(x, l) }) {
				examLangs = append(examLangs, l)
			}
		}
	}
	if len(codes) == 0 {
		examLangs = slices.Clone(cert.Languages) // no exam to take the languages from
	}
	translated := make([][]string, len(questions))
	for i, q := range questions {
		for j, t := range q.Translations {
			k := slices.IndexFunc(examLangs, func(x string) bool { return strings.EqualFold(x, t.Language) })
			if k < 0 {
				return nil, apperr.Invalid("question %d: the certification's exams are not offered in %s", i+1, t.Language).
					With("availableLanguages", examLangs)
			}
			q.Translations[j].Language = examLangs[k] // the exams' spelling, which attempts store
			translated[i] = append(translated[i], examLangs[k])
		}
	}
	langs := CompleteLanguages(examLangs, translated)
	if len(langs) == 0 {
		return nil, apperr.Invalid("the certification's exams are offered in none of the languages every question has text in").
			With("availableLanguages", examLangs)
	}
	return langs, nil
}
