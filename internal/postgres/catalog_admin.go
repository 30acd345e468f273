package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/catalog/seed"
)

var _ catalog.AdminStore = Catalog{}

// InAdminTx runs fn in one transaction on a Catalog bound to it.
func (s Catalog) InAdminTx(ctx context.Context, fn func(tx catalog.AdminStore) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(Catalog{tx}) })
}

// LockCatalog takes the transaction-level advisory lock every catalog change takes. The
// cycle checks read the whole prerequisite and supersedes graphs: two changes checked against
// the same snapshot (A needs B, B needs A) would each pass alone and together make a cycle.
func (s Catalog) LockCatalog(ctx context.Context) error {
	if _, err := s.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('recert.catalog_admin'))`); err != nil {
		return fmt.Errorf("lock catalog: %w", err)
	}
	return nil
}

type supersedesRow struct {
	Code       string  `db:"code"`
	Supersedes *string `db:"supersedes"`
}

// ExamSupersedes maps every exam code to the code it supersedes ("" for none).
func (s Catalog) ExamSupersedes(ctx context.Context) (map[string]string, error) {
	var rows []supersedesRow
	if err := s.sel(ctx, &rows, `SELECT code, supersedes FROM exams`); err != nil {
		return nil, fmt.Errorf("load exams: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Code] = ""
		if r.Supersedes != nil {
			out[r.Code] = *r.Supersedes
		}
	}
	return out, nil
}

type codeIDRow struct {
	Code string    `db:"code"`
	ID   uuid.UUID `db:"id"`
}

// CertificationIDsByCodes maps the given codes that exist to their ids.
func (s Catalog) CertificationIDsByCodes(ctx context.Context, codes []string) (map[string]uuid.UUID, error) {
	var rows []codeIDRow
	if err := s.sel(ctx, &rows, `SELECT code, id FROM certifications WHERE code = ANY($1)`, pq.Array(codes)); err != nil {
		return nil, fmt.Errorf("load certification ids: %w", err)
	}
	out := make(map[string]uuid.UUID, len(rows))
	for _, r := range rows {
		out[r.Code] = r.ID
	}
	return out, nil
}

type prereqEdgeRow struct {
	Code   string `db:"code"`
	Prereq string `db:"prereq"`
}

// PrerequisiteCodes maps every certification code that has prerequisites to their codes.
func (s Catalog) PrerequisiteCodes(ctx context.Context) (map[string][]string, error) {
	var rows []prereqEdgeRow
	if err := s.sel(ctx, &rows, `
SELECT c.code, pc.code AS prereq
FROM certification_prerequisites p
JOIN certifications c ON c.id = p.certification_id
JOIN certifications pc ON pc.id = p.prerequisite_id
ORDER BY c.code, pc.code`); err != nil {
		return nil, fmt.Errorf("load prerequisites: %w", err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.Code] = append(out[r.Code], r.Prereq)
	}
	return out, nil
}

const saveExamSQL = `
INSERT INTO exams (code, title, languages, retired_on, supersedes, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (code) DO UPDATE
   SET title = EXCLUDED.title, languages = EXCLUDED.languages, retired_on = EXCLUDED.retired_on,
       supersedes = EXCLUDED.supersedes, updated_at = EXCLUDED.updated_at
RETURNING code, title, languages, retired_on, supersedes`

// SaveExam inserts or updates an exam by code.
func (s Catalog) SaveExam(ctx context.Context, e catalog.Exam, now time.Time) (catalog.Exam, error) {
	var r examRow
	if err := s.get(ctx, &r, saveExamSQL, e.Code, e.Title, pq.Array(e.Languages), e.RetiredOn, e.Supersedes, now); err != nil {
		return catalog.Exam{}, fmt.Errorf("save exam: %w", err)
	}
	return r.domain(), nil
}

const saveCertificationSQL = `
INSERT INTO certifications AS c (code, name, level, released_on, retired_on, languages, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (code) DO UPDATE
   SET name = EXCLUDED.name, level = EXCLUDED.level, released_on = EXCLUDED.released_on,
       retired_on = EXCLUDED.retired_on, languages = EXCLUDED.languages, updated_at = EXCLUDED.updated_at
RETURNING ` + certColumns

// SaveCertification inserts or updates a certification by code and replaces its requirement
// paths (numbered in the order given) and prerequisites.
func (s Catalog) SaveCertification(ctx context.Context, c catalog.Certification, paths [][]string, prereqs []uuid.UUID, now time.Time) (catalog.Certification, error) {
	var r certificationRow
	if err := s.get(ctx, &r, saveCertificationSQL, c.Code, c.Name, string(c.Level), c.ReleasedOn, c.RetiredOn,
		pq.Array(c.Languages), now); err != nil {
		return catalog.Certification{}, fmt.Errorf("save certification: %w", err)
	}
	if _, err := s.exec(ctx, `DELETE FROM requirement_paths WHERE certification_id = $1`, r.ID); err != nil {
		return catalog.Certification{}, fmt.Errorf("clear requirement paths: %w", err)
	}
	for i, path := range paths {
		if _, err := s.exec(ctx, `
INSERT INTO requirement_paths (certification_id, path_no, exam_code) SELECT $1, $2, unnest($3::text[])`,
			r.ID, i+1, pq.Array(path)); err != nil {
			return catalog.Certification{}, fmt.Errorf("insert requirement path: %w", err)
		}
	}
	if _, err := s.exec(ctx, `DELETE FROM certification_prerequisites WHERE certification_id = $1`, r.ID); err != nil {
		return catalog.Certification{}, fmt.Errorf("clear prerequisites: %w", err)
	}
	if _, err := s.exec(ctx, `
INSERT INTO certification_prerequisites (certification_id, prerequisite_id) SELECT $1, unnest($2::uuid[])`,
		r.ID, pq.Array(prereqs)); err != nil {
		return catalog.Certification{}, fmt.Errorf("insert prerequisites: %w", err)
	}
	return r.domain(), nil
}

// PublishVersion stores the next version of a certification's assessment. The assessment row
// is created if missing and locked, so two publishes never race for one version number (the
// unique (assessment_id, version) backs it).
func (s Catalog) PublishVersion(ctx context.Context, certID uuid.UUID, v catalog.AssessmentVersion) (catalog.Assessment, error) {
	if _, err := s.exec(ctx, `
INSERT INTO renewal_assessments (certification_id) VALUES ($1) ON CONFLICT (certification_id) DO NOTHING`, certID); err != nil {
		return catalog.Assessment{}, fmt.Errorf("create assessment: %w", err)
	}
	var assessmentID uuid.UUID
	if err := s.get(ctx, &assessmentID, `SELECT id FROM renewal_assessments WHERE certification_id = $1 FOR UPDATE`, certID); err != nil {
		return catalog.Assessment{}, fmt.Errorf("lock assessment: %w", err)
	}
	var next int
	if err := s.get(ctx, &next, `SELECT COALESCE(max(version), 0) + 1 FROM assessment_versions WHERE assessment_id = $1`, assessmentID); err != nil {
		return catalog.Assessment{}, fmt.Errorf("next version: %w", err)
	}
	nv := NewVersion{Version: next, PassingScore: v.PassingScore, QuestionsPerAttempt: v.QuestionsPerAttempt,
		Languages: v.Languages, PublishedAt: v.PublishedAt}
	for _, m := range v.Modules {
		nv.Modules = append(nv.Modules, seed.Module{Title: m.Title, URL: m.URL})
	}
	for _, q := range v.Questions {
		sq := seed.Question{Prompt: q.Prompt}
		for _, c := range q.Choices {
			sq.Choices = append(sq.Choices, seed.Choice{Text: c.Text, Correct: c.Correct})
		}
		for _, t := range q.Translations {
			sq.Translations = append(sq.Translations, seed.Translation{Language: t.Language, Prompt: t.Prompt, Choices: t.Choices})
		}
		nv.Questions = append(nv.Questions, sq)
	}
	if err := s.InsertAssessmentVersion(ctx, assessmentID, nv); err != nil {
		return catalog.Assessment{}, err
	}
	var r assessmentRow
	if err := s.get(ctx, &r, `SELECT `+assessmentColumns+`
FROM assessment_versions v JOIN renewal_assessments a ON a.id = v.assessment_id
WHERE v.assessment_id = $1 AND v.version = $2`, assessmentID, next); err != nil {
		return catalog.Assessment{}, fmt.Errorf("load published version: %w", err)
	}
	return r.domain(), nil
}
