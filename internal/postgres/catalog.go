package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
)

var _ catalog.Store = Catalog{}

type certificationRow struct {
	ID         uuid.UUID      `db:"id"`
	Code       string         `db:"code"`
	Name       string         `db:"name"`
	Level      string         `db:"level"`
	ReleasedOn date.Date      `db:"released_on"`
	RetiredOn  *date.Date     `db:"retired_on"`
	Languages  pq.StringArray `db:"languages"`
}

func (r certificationRow) domain() catalog.Certification {
	return catalog.Certification{ID: r.ID, Code: r.Code, Name: r.Name, Level: catalog.Level(r.Level),
		ReleasedOn: r.ReleasedOn, RetiredOn: nilIfZero(r.RetiredOn), Languages: []string(r.Languages)}
}

func nilIfZero(d *date.Date) *date.Date {
	if d == nil || d.IsZero() {
		return nil
	}
	return d
}

const certColumns = `c.id, c.code, c.name, c.level, c.released_on, c.retired_on, c.languages`

// certFilterSQL is shared by the list and the count; $1 level, $2 renewable, $3 search
// (folded, then escaped: likeContains).
var certFilterSQL = `
WHERE ($1::text IS NULL OR c.level = $1)
  AND ($2::bool IS NULL OR $2 = (c.level <> 'FUNDAMENTALS'
        AND EXISTS (SELECT 1 FROM renewal_assessments ra WHERE ra.certification_id = c.id)))
  AND ($3 = '' OR search_fold(c.name) LIKE ` + likeContains(`search_fold($3)`) + `
       OR c.code LIKE ` + likeContains(`lower($3)`) + `)`

func filterArgs(f catalog.Filter) (any, any, string) {
	var level, renewable any
	if f.Level != nil {
		level = string(*f.Level)
	}
	if f.Renewable != nil {
		renewable = *f.Renewable
	}
	return level, renewable, f.Search
}

// Certifications lists certifications by code, keyset-paginated on the code.
func (s Catalog) Certifications(ctx context.Context, f catalog.Filter, after string, limit int) ([]catalog.Certification, error) {
	level, renewable, search := filterArgs(f)
	q := `SELECT ` + certColumns + ` FROM certifications c` + certFilterSQL + `
  AND c.code > $4 ORDER BY c.code LIMIT $5`
	var rows []certificationRow
	if err := s.sel(ctx, &rows, q, level, renewable, search, after, limit); err != nil {
		return nil, fmt.Errorf("list certifications: %w", err)
	}
	out := make([]catalog.Certification, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// CountCertifications counts the certifications matching f.
func (s Catalog) CountCertifications(ctx context.Context, f catalog.Filter) (int, error) {
	level, renewable, search := filterArgs(f)
	var n int
	err := s.get(ctx, &n, `SELECT count(*) FROM certifications c`+certFilterSQL, level, renewable, search)
	return n, err
}

// CertificationByCode loads one certification.
func (s Catalog) CertificationByCode(ctx context.Context, code string) (catalog.Certification, error) {
	var r certificationRow
	if err := s.get(ctx, &r, `SELECT `+certColumns+` FROM certifications c WHERE c.code = $1`, code); err != nil {
		return catalog.Certification{}, notFound(err, "certification")
	}
	return r.domain(), nil
}

// CertificationsByIDs loads certifications in key order.
func (s Catalog) CertificationsByIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Certification, []error) {
	var rows []certificationRow
	if err := s.sel(ctx, &rows, `SELECT `+certColumns+` FROM certifications c WHERE c.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r certificationRow) (uuid.UUID, catalog.Certification) { return r.ID, r.domain() }, "certification")
}

type prereqRow struct {
	certificationRow
	Of uuid.UUID `db:"of"`
}

// PrerequisitesByCertIDs loads each certification's prerequisites (any one of), by code.
func (s Catalog) PrerequisitesByCertIDs(ctx context.Context, ids []uuid.UUID) ([][]catalog.Certification, error) {
	var rows []prereqRow
	q := `SELECT p.certification_id AS of, ` + certColumns + `
FROM certification_prerequisites p JOIN certifications c ON c.id = p.prerequisite_id
WHERE p.certification_id = ANY($1) ORDER BY c.code`
	if err := s.sel(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load prerequisites: %w", err)
	}
	return groupByKey(ids, rows, func(r prereqRow) (uuid.UUID, catalog.Certification) { return r.Of, r.certificationRow.domain() }), nil
}

type pathRow struct {
	CertificationID uuid.UUID      `db:"certification_id"`
	Exams           pq.StringArray `db:"exams"`
}

// PathsByCertIDs loads each certification's requirement paths as lists of exam codes.
func (s Catalog) PathsByCertIDs(ctx context.Context, ids []uuid.UUID) ([][][]string, error) {
	var rows []pathRow
	q := `SELECT certification_id, array_agg(exam_code ORDER BY exam_code) AS exams
FROM requirement_paths WHERE certification_id = ANY($1)
GROUP BY certification_id, path_no ORDER BY certification_id, path_no`
	if err := s.sel(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load requirement paths: %w", err)
	}
	return groupByKey(ids, rows, func(r pathRow) (uuid.UUID, []string) { return r.CertificationID, []string(r.Exams) }), nil
}

type examRow struct {
	Code       string         `db:"code"`
	Title      string         `db:"title"`
	Languages  pq.StringArray `db:"languages"`
	RetiredOn  *date.Date     `db:"retired_on"`
	Supersedes *string        `db:"supersedes"`
}

func (r examRow) domain() catalog.Exam {
	return catalog.Exam{Code: r.Code, Title: r.Title, Languages: []string(r.Languages),
		RetiredOn: nilIfZero(r.RetiredOn), Supersedes: r.Supersedes}
}

// ExamsByCodes loads exams in key order.
func (s Catalog) ExamsByCodes(ctx context.Context, codes []string) ([]*catalog.Exam, []error) {
	var rows []examRow
	q := `SELECT code, title, languages, retired_on, supersedes FROM exams WHERE code = ANY($1)`
	if err := s.sel(ctx, &rows, q, pq.Array(codes)); err != nil {
		return nil, fill(len(codes), err)
	}
	return inKeyOrder(codes, rows, func(r examRow) (string, catalog.Exam) { return r.Code, r.domain() }, "exam")
}

type assessmentRow struct {
	ID              uuid.UUID      `db:"id"`
	AssessmentID    uuid.UUID      `db:"assessment_id"`
	CertificationID uuid.UUID      `db:"certification_id"`
	Version         int            `db:"version"`
	Languages       pq.StringArray `db:"languages"`
	PassingScore    int            `db:"passing_score"`
	QuestionCount   int            `db:"questions_per_attempt"`
	PublishedAt     time.Time      `db:"published_at"`
}

func (r assessmentRow) domain() catalog.Assessment {
	return catalog.Assessment{ID: r.ID, AssessmentID: r.AssessmentID, CertificationID: r.CertificationID,
		Version: r.Version, Languages: []string(r.Languages), PassingScore: r.PassingScore,
		QuestionCount: r.QuestionCount, PublishedAt: r.PublishedAt.UTC()}
}

const assessmentColumns = `v.id, v.assessment_id, a.certification_id, v.version, v.languages, v.passing_score,
       v.questions_per_attempt, v.published_at`

// CurrentAssessmentsByCertIDs loads the newest version of each certification's assessment;
// nil where a certification has none.
func (s Catalog) CurrentAssessmentsByCertIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Assessment, error) {
	var rows []assessmentRow
	q := `SELECT * FROM (` + currentAssessmentsSQL + `) av WHERE av.certification_id = ANY($1)`
	if err := s.sel(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load assessments: %w", err)
	}
	out, _ := inKeyOrder(ids, rows, func(r assessmentRow) (uuid.UUID, catalog.Assessment) { return r.CertificationID, r.domain() }, "assessment")
	return out, nil
}

// AssessmentsByVersionIDs loads assessment versions in key order.
func (s Catalog) AssessmentsByVersionIDs(ctx context.Context, ids []uuid.UUID) ([]*catalog.Assessment, []error) {
	var rows []assessmentRow
	q := `SELECT ` + assessmentColumns + `
FROM assessment_versions v JOIN renewal_assessments a ON a.id = v.assessment_id WHERE v.id = ANY($1)`
	if err := s.sel(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r assessmentRow) (uuid.UUID, catalog.Assessment) { return r.ID, r.domain() }, "renewal assessment")
}

type moduleRow struct {
	VersionID uuid.UUID `db:"version_id"`
	Title     string    `db:"title"`
	URL       string    `db:"url"`
}

// ModulesByVersionIDs loads the learning modules of assessment versions.
func (s Catalog) ModulesByVersionIDs(ctx context.Context, ids []uuid.UUID) ([][]catalog.Module, error) {
	var rows []moduleRow
	q := `SELECT version_id, title, url FROM learning_modules WHERE version_id = ANY($1) ORDER BY version_id, position`
	if err := s.sel(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load learning modules: %w", err)
	}
	return groupByKey(ids, rows, func(r moduleRow) (uuid.UUID, catalog.Module) {
		return r.VersionID, catalog.Module{Title: r.Title, URL: r.URL}
	}), nil
}

// likeContains is a LIKE pattern (default escape character: backslash) matching text that
// contains the value of the SQL expression expr literally: its % _ and backslashes are
// escaped. Escape after folding: search_fold (unaccent) turns the full-width ％ ＿ ＼ into
// % _ and a backslash, so a value escaped before folding hands wildcards to LIKE. Every
// function here is immutable, so the trigram indexes on search_fold(...) still serve it.
func likeContains(expr string) string {
	return `'%' || replace(replace(replace(` + expr + `, '\', '\\'), '%', '\%'), '_', '\_') || '%'`
}
