package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/catalog/seed"
)

// LoadCatalog loads the shipped catalog idempotently: rows that already exist are left as they
// are (an admin may have changed them since), so running it twice changes nothing. The
// shipped renewal assessments become version 1 of each assessment that has no version yet.
func (s *Store) LoadCatalog(ctx context.Context, c *seed.Catalog, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		// One loader at a time: concurrent server starts would otherwise race on version 1.
		if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('recert.load_catalog'))`); err != nil {
			return fmt.Errorf("lock catalog load: %w", err)
		}
		for _, e := range c.Exams {
			if _, err := tx.exec(ctx, `
INSERT INTO exams (code, title, languages, retired_on, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (code) DO NOTHING`, e.Code, e.Title, pq.Array(e.Languages), e.RetiredOn, now); err != nil {
				return fmt.Errorf("exam %s: %w", e.Code, err)
			}
		}
		for _, e := range c.Exams {
			if e.Supersedes == nil {
				continue
			}
			if _, err := tx.exec(ctx, `UPDATE exams SET supersedes = $2 WHERE code = $1 AND supersedes IS NULL`,
				e.Code, *e.Supersedes); err != nil {
				return fmt.Errorf("exam %s supersedes: %w", e.Code, err)
			}
		}
		ids := make(map[string]uuid.UUID, len(c.Certifications))
		for _, cert := range c.Certifications {
			var id uuid.UUID
			err := tx.get(ctx, &id, `
WITH ins AS (
  INSERT INTO certifications (code, name, level, released_on, retired_on, languages, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (code) DO NOTHING RETURNING id)
SELECT id FROM ins UNION ALL SELECT id FROM certifications WHERE code = $1 LIMIT 1`,
				cert.Code, cert.Name, cert.Level, cert.ReleasedOn, cert.RetiredOn, pq.Array(cert.Languages), now)
			if err != nil {
				return fmt.Errorf("certification %s: %w", cert.Code, err)
			}
			ids[cert.Code] = id
			for i, path := range cert.RequirementPaths {
				for _, exam := range path {
					if _, err := tx.exec(ctx, `
INSERT INTO requirement_paths (certification_id, path_no, exam_code) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`, id, i+1, exam); err != nil {
						return fmt.Errorf("certification %s path: %w", cert.Code, err)
					}
				}
			}
		}
		for _, cert := range c.Certifications {
			for _, p := range cert.Prerequisites {
				if _, err := tx.exec(ctx, `
INSERT INTO certification_prerequisites (certification_id, prerequisite_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING`, ids[cert.Code], ids[p]); err != nil {
					return fmt.Errorf("certification %s prerequisite: %w", cert.Code, err)
				}
			}
			if cert.RenewalAssessment != nil {
				if err := tx.seedAssessment(ctx, ids[cert.Code], cert.RenewalAssessment, now); err != nil {
					return fmt.Errorf("certification %s assessment: %w", cert.Code, err)
				}
			}
		}
		return nil
	})
}

func (s *Store) seedAssessment(ctx context.Context, certID uuid.UUID, a *seed.Assessment, now time.Time) error {
	var assessmentID uuid.UUID
	err := s.get(ctx, &assessmentID, `
WITH ins AS (
  INSERT INTO renewal_assessments (certification_id) VALUES ($1)
  ON CONFLICT (certification_id) DO NOTHING RETURNING id)
SELECT id FROM ins UNION ALL SELECT id FROM renewal_assessments WHERE certification_id = $1 LIMIT 1`, certID)
	if err != nil {
		return err
	}
	var versions int
	if err := s.get(ctx, &versions, `SELECT count(*) FROM assessment_versions WHERE assessment_id = $1`, assessmentID); err != nil {
		return err
	}
	if versions > 0 {
		return s.translateShippedVersion(ctx, assessmentID, a)
	}
	return s.InsertAssessmentVersion(ctx, assessmentID, NewVersion{
		Version: 1, PassingScore: a.PassingScore, QuestionsPerAttempt: a.QuestionsPerAttempt,
		Languages: a.OfferedLanguages(), Modules: a.LearningModules, Questions: a.Questions, PublishedAt: now,
	})
}

// translateShippedVersion adds the shipped translations to a version 1 stored before they
// shipped (migration 0030 left it English-only), when its bank is still the shipped one (the
// same English prompts in the same order), and offers the languages it then has complete text
// in. Translations already stored are kept, so loading again changes nothing.
func (s *Store) translateShippedVersion(ctx context.Context, assessmentID uuid.UUID, a *seed.Assessment) error {
	var rows []struct {
		ID     uuid.UUID `db:"id"`
		Prompt string    `db:"prompt"`
	}
	if err := s.sel(ctx, &rows, `
SELECT q.id, q.prompt FROM assessment_questions q JOIN assessment_versions v ON v.id = q.version_id
WHERE v.assessment_id = $1 AND v.version = 1 ORDER BY q.position`, assessmentID); err != nil {
		return fmt.Errorf("load version 1: %w", err)
	}
	if len(rows) != len(a.Questions) {
		return nil
	}
	for i, q := range a.Questions {
		if rows[i].Prompt != q.Prompt {
			return nil
		}
	}
	for i, q := range a.Questions {
		if err := s.insertTexts(ctx, rows[i].ID, q.Translations); err != nil {
			return err
		}
	}
	if _, err := s.exec(ctx, `
UPDATE assessment_versions SET languages = $2
WHERE assessment_id = $1 AND version = 1 AND languages <> $2`, assessmentID, pq.Array(a.OfferedLanguages())); err != nil {
		return fmt.Errorf("offer translated languages: %w", err)
	}
	return nil
}

// insertTexts stores a question's translations; one already stored for a language is kept.
func (s *Store) insertTexts(ctx context.Context, questionID uuid.UUID, ts []seed.Translation) error {
	for _, t := range ts {
		if _, err := s.exec(ctx, `
INSERT INTO assessment_question_texts (question_id, language, prompt, choices) VALUES ($1, $2, $3, $4)
ON CONFLICT (question_id, language) DO NOTHING`, questionID, t.Language, t.Prompt, pq.Array(t.Choices)); err != nil {
			return fmt.Errorf("insert %s text: %w", t.Language, err)
		}
	}
	return nil
}

// NewVersion is a renewal assessment version to store: its settings and question bank.
type NewVersion struct {
	Version             int
	PassingScore        int
	QuestionsPerAttempt int
	Languages           []string
	Modules             []seed.Module
	Questions           []seed.Question
	PublishedAt         time.Time
}

// InsertAssessmentVersion stores one version of an assessment with its questions, choices, their
// translations and learning modules, returning nothing but an error; the caller holds the transaction.
func (s *Store) InsertAssessmentVersion(ctx context.Context, assessmentID uuid.UUID, v NewVersion) error {
	var versionID uuid.UUID
	if err := s.get(ctx, &versionID, `
INSERT INTO assessment_versions (assessment_id, version, passing_score, questions_per_attempt, languages, published_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		assessmentID, v.Version, v.PassingScore, v.QuestionsPerAttempt, pq.Array(v.Languages), v.PublishedAt); err != nil {
		return fmt.Errorf("insert version: %w", err)
	}
	for i, m := range v.Modules {
		if _, err := s.exec(ctx, `INSERT INTO learning_modules (version_id, position, title, url) VALUES ($1, $2, $3, $4)`,
			versionID, i+1, m.Title, m.URL); err != nil {
			return fmt.Errorf("insert module: %w", err)
		}
	}
	for i, q := range v.Questions {
		correct := 0
		for _, c := range q.Choices {
			if c.Correct {
				correct++
			}
		}
		var qid uuid.UUID
		if err := s.get(ctx, &qid, `
INSERT INTO assessment_questions (version_id, position, prompt, multiple_answers) VALUES ($1, $2, $3, $4) RETURNING id`,
			versionID, i+1, q.Prompt, correct > 1); err != nil {
			return fmt.Errorf("insert question: %w", err)
		}
		for j, c := range q.Choices {
			if _, err := s.exec(ctx, `
INSERT INTO assessment_choices (question_id, position, text, correct) VALUES ($1, $2, $3, $4)`,
				qid, j+1, c.Text, c.Correct); err != nil {
				return fmt.Errorf("insert choice: %w", err)
			}
		}
		if err := s.insertTexts(ctx, qid, q.Translations); err != nil {
			return err
		}
	}
	return nil
}
