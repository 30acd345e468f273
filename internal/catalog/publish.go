package catalog

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
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
}

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
// attempts in progress keep theirs. It is offered in the certification's languages (docs/domain.md
// "Renewal assessment": the same languages as the certification's exams; the catalog keeps a
// certification's languages to those of its exams). Audited as PublishAction; the audit
// records the settings and counts, never the questions or answers.
// Codes: UNAUTHENTICATED, FORBIDDEN (not admin), NOT_FOUND (unknown certification code),
// NOT_RENEWABLE (fundamentals), BAD_USER_INPUT (see ValidateAssessment).
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
	var out Assessment
	err = store.InAdminTx(ctx, func(tx AdminStore) error {
		cert, err := tx.CertificationByCode(ctx, strings.TrimSpace(in.CertificationCode))
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Missing("certification")
		} else if err != nil {
			return err
		}
		if !cert.Expires() {
			return apperr.E(apperr.NotRenewable, "%s never expires and has no renewal assessment", cert.Code)
		}
		v, err := ValidateAssessment(in)
		if err != nil {
			return err
		}
		v.Languages, v.PublishedAt = slices.Clone(cert.Languages), now
		if out, err = tx.PublishVersion(ctx, cert.ID, v); err != nil {
			return fmt.Errorf("publish version: %w", err)
		}
		ev, err := audit.New(PublishAction, p.Identity(), map[string]any{
			"certificationCode": cert.Code, "version": out.Version, "passingScore": v.PassingScore,
			"questionsPerAttempt": v.QuestionsPerAttempt, "bankSize": len(v.Questions),
			"learningModules": len(v.Modules),
		}, now)
		if err != nil {
			return err
		}
		_, err = tx.InsertAudit(ctx, ev)
		return err
	})
	return out, err
}

// ValidateAssessment checks a new assessment and fills in the defaults.
// Codes: BAD_USER_INPUT: no questions or more than MaxQuestions; an empty prompt; fewer than
// two choices or more than MaxChoices; an empty or repeated choice text; no correct choice or
// no incorrect one; passingScore outside 1..100; questionsPerAttempt outside 1..bank size or
// above MaxQuestionsPerAttempt; more
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
		v.Questions = append(v.Questions, Question{Prompt: prompt, MultipleAnswers: right > 1, Choices: choices})
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
