// Package catalog holds certifications, exams, requirement paths and renewal assessments
// (docs/domain.md "Catalog").
package catalog

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/date"
)

// Level is a certification's level.
type Level string

// The certification levels.
const (
	LevelFundamentals Level = "FUNDAMENTALS"
	LevelAssociate    Level = "ASSOCIATE"
	LevelExpert       Level = "EXPERT"
	LevelSpecialty    Level = "SPECIALTY"
)

// Valid reports whether l is one of the known levels.
func (l Level) Valid() bool {
	switch l {
	case LevelFundamentals, LevelAssociate, LevelExpert, LevelSpecialty:
		return true
	}
	return false
}

// ValidityYears is how long an earned role-based or specialty certification is valid
// (docs/domain.md "Validity", chosen: the programme's one-year cycle).
const ValidityYears = 1

// RenewalLeadMonths is both how long after release the renewal assessment becomes available
// and how long before expiry the renewal window opens (docs/domain.md "Renewal assessment", "Window").
const RenewalLeadMonths = 6

// Certification is a certification of the catalog.
type Certification struct {
	ID         uuid.UUID
	Code       string
	Name       string
	Level      Level
	ReleasedOn date.Date
	RetiredOn  *date.Date
	Languages  []string
}

// Expires reports whether an earned certification of this kind expires: fundamentals never do.
func (c *Certification) Expires() bool { return c.Level != LevelFundamentals }

// ExpiryFor returns the expiry of a certification earned on the given day, or nil for
// certifications that never expire.
func (c *Certification) ExpiryFor(earnedOn date.Date) *date.Date {
	if !c.Expires() {
		return nil
	}
	e := earnedOn.AddYears(ValidityYears)
	return &e
}

// RenewalAvailableFrom is releasedOn + 6 months for renewable certifications, nil otherwise.
func (c *Certification) RenewalAvailableFrom() *date.Date {
	if !c.Expires() {
		return nil
	}
	d := c.ReleasedOn.AddMonths(RenewalLeadMonths)
	return &d
}

// Exam is an exam of the catalog.
type Exam struct {
	Code       string
	Title      string
	Languages  []string
	RetiredOn  *date.Date
	Supersedes *string
}

// Assessment is one published version of a certification's renewal assessment.
type Assessment struct {
	ID              uuid.UUID // the version's id
	AssessmentID    uuid.UUID
	CertificationID uuid.UUID
	Version         int
	Languages       []string
	PassingScore    int
	QuestionCount   int // questions served per attempt
	PublishedAt     time.Time
}

// OffersLanguage reports whether the assessment is offered in lang.
func (a *Assessment) OffersLanguage(lang string) bool {
	for _, l := range a.Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Module is a free self-paced learning module linked for preparation.
type Module struct {
	Title string
	URL   string
}

// Question is a question of an assessment version's bank, with its correct choices. It never
// leaves the server: learners see renewal.ServedQuestion.
type Question struct {
	ID              uuid.UUID
	Prompt          string
	MultipleAnswers bool
	Choices         []Choice
	// Translations are the question's text in languages other than English (BaseLanguage).
	Translations []Translation
}

// BaseLanguage is the language of Question.Prompt and Choice.Text: every question has it.
const BaseLanguage = "en"

// Translation is a question's text in one more language: the prompt and the choice texts in
// the order of Question.Choices. Choices keep their ids and correctness whatever the language.
type Translation struct {
	Language string
	Prompt   string
	Choices  []string
}

// CompleteLanguages returns the languages of bound (in bound's order) that every question has
// text in: BaseLanguage, and each language translated by every question (docs/domain.md
// "Renewal assessment": a version is offered in exactly these). translated holds, per
// question, the languages it is translated into. Tags compare case-insensitively.
func CompleteLanguages(bound []string, translated [][]string) []string {
	out := []string{}
	for _, l := range bound {
		complete := strings.EqualFold(l, BaseLanguage)
		if !complete {
			complete = true
			for _, langs := range translated {
				if !slices.ContainsFunc(langs, func(t string) bool { return strings.EqualFold(t, l) }) {
					complete = false
					break
				}
			}
		}
		if complete && !slices.ContainsFunc(out, func(t string) bool { return strings.EqualFold(t, l) }) {
			out = append(out, l)
		}
	}
	return out
}

// Choice is one answer of a question.
type Choice struct {
	ID      uuid.UUID
	Text    string
	Correct bool
}
