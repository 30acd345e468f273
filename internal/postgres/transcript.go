package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

var _ transcript.Store = Transcript{}

// InTx runs fn in one transaction; see Store.InTx.
func (s Transcript) InTx(ctx context.Context, fn func(tx transcript.Store) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(Transcript{tx}) })
}

type resultRow struct {
	ID         uuid.UUID `db:"id"`
	ProfileID  uuid.UUID `db:"profile_id"`
	ExamCode   string    `db:"exam_code"`
	Passed     bool      `db:"passed"`
	Score      *int      `db:"score"`
	TakenAt    time.Time `db:"taken_at"`
	Language   *string   `db:"language"`
	ExternalID string    `db:"external_id"`
	RecordedAt time.Time `db:"recorded_at"`
}

func (r resultRow) domain() transcript.ExamResult {
	return transcript.ExamResult{ID: r.ID, ProfileID: r.ProfileID, ExamCode: r.ExamCode, Passed: r.Passed,
		Score: r.Score, TakenAt: r.TakenAt.UTC(), Language: r.Language, ExternalID: r.ExternalID,
		RecordedAt: r.RecordedAt.UTC()}
}

const resultColumns = `r.id, r.profile_id, r.exam_code, r.passed, r.score, r.taken_at, r.language, r.external_id, r.recorded_at`

type earnedRow struct {
	ID              uuid.UUID  `db:"id"`
	ProfileID       uuid.UUID  `db:"profile_id"`
	CertificationID uuid.UUID  `db:"certification_id"`
	EarnedOn        date.Date  `db:"earned_on"`
	ExpiresOn       *date.Date `db:"expires_on"`
	SupersededAt    *time.Time `db:"superseded_at"`
	SupersededBy    *uuid.UUID `db:"superseded_by"`
	CreatedAt       time.Time  `db:"created_at"`
}

func (r earnedRow) domain() transcript.Earned {
	e := transcript.Earned{ID: r.ID, ProfileID: r.ProfileID, CertificationID: r.CertificationID,
		EarnedOn: r.EarnedOn, ExpiresOn: nilIfZero(r.ExpiresOn), SupersededBy: r.SupersededBy,
		CreatedAt: r.CreatedAt.UTC()}
	if r.SupersededAt != nil {
		t := r.SupersededAt.UTC()
		e.SupersededAt = &t
	}
	return e
}

const earnedColumns = `e.id, e.profile_id, e.certification_id, e.earned_on, e.expires_on, e.superseded_at,
       e.superseded_by, e.created_at`

func earnedList(rows []earnedRow) []transcript.Earned {
	out := make([]transcript.Earned, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out
}

// ResultByExternalID loads the result recorded under a delivery id.
func (s Transcript) ResultByExternalID(ctx context.Context, externalID string) (transcript.ExamResult, error) {
	var r resultRow
	if err := s.get(ctx, &r, `SELECT `+resultColumns+` FROM exam_results r WHERE r.external_id = $1`, externalID); err != nil {
		return transcript.ExamResult{}, notFound(err, "exam result")
	}
	return r.domain(), nil
}

// maxMergeHops bounds how often LockProfileByMCID follows a merge that committed between
// resolving the MCID and locking the row.
const maxMergeHops = 8

// LockProfileByMCID resolves mcid to its current profile (following merged_into) and locks
// that row FOR UPDATE. If a merge moved it on in between, the lock is taken again on the new
// survivor.
func (s Transcript) LockProfileByMCID(ctx context.Context, mcid int64) (certprofile.Profile, error) {
	p, err := CertProfile{s.Store}.ProfileByMCID(ctx, mcid)
	if err != nil {
		return certprofile.Profile{}, err
	}
	for hop := 0; hop < maxMergeHops; hop++ {
		var r profileRow
		if err := s.get(ctx, &r, `SELECT `+ProfileColumns+` FROM certification_profiles p WHERE p.id = $1 FOR UPDATE`, p.ID); err != nil {
			return certprofile.Profile{}, fmt.Errorf("lock profile: %w", err)
		}
		if r.MergedInto == nil {
			return r.domain(), nil
		}
		p.ID = *r.MergedInto
	}
	return certprofile.Profile{}, fmt.Errorf("lock profile of MCID %d: merge chain too long", mcid)
}

// ExamByCode loads an exam of the catalog. Codes: NOT_FOUND.
func (s Transcript) ExamByCode(ctx context.Context, code string) (catalog.Exam, error) {
	var r examRow
	if err := s.get(ctx, &r, `SELECT code, title, languages, retired_on, supersedes FROM exams WHERE code = $1`, code); err != nil {
		return catalog.Exam{}, notFound(err, "exam")
	}
	return r.domain(), nil
}

// InsertResult stores r unless its external id is recorded already. ON CONFLICT waits for a
// concurrent insert of the same id and then does nothing, so exactly one request stores it.
func (s Transcript) InsertResult(ctx context.Context, in transcript.ExamResult) (transcript.ExamResult, bool, error) {
	var r resultRow
	err := s.get(ctx, &r, `
INSERT INTO exam_results AS r (profile_id, exam_code, passed, score, taken_at, language, external_id, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (external_id) DO NOTHING
RETURNING `+resultColumns, in.ProfileID, in.ExamCode, in.Passed, in.Score, in.TakenAt, in.Language, in.ExternalID, in.RecordedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return transcript.ExamResult{}, false, nil
	}
	if err != nil {
		return transcript.ExamResult{}, false, fmt.Errorf("insert exam result: %w", err)
	}
	return r.domain(), true, nil
}

type ruleRow struct {
	certificationRow
	Paths         []byte         `db:"paths"`
	Prerequisites pq.StringArray `db:"prerequisites"`
}

// rulesForExamSQL finds the certifications a pass of exam $1 may earn: those with the exam in
// a path and, transitively, those listing one of them as a prerequisite (UNION stops on a
// cycle). Paths come as a JSON array of exam-code arrays.
const rulesForExamSQL = `
WITH RECURSIVE affected(id) AS (
    SELECT certification_id FROM requirement_paths WHERE exam_code = $1
  UNION
    SELECT p.certification_id FROM certification_prerequisites p JOIN affected a ON p.prerequisite_id = a.id
)
SELECT ` + certColumns + `,
       COALESCE((SELECT json_agg(x.exams ORDER BY x.path_no)
                 FROM (SELECT rp.path_no, array_agg(rp.exam_code ORDER BY rp.exam_code) AS exams
                       FROM requirement_paths rp WHERE rp.certification_id = c.id GROUP BY rp.path_no) x),
                '[]') AS paths,
       ARRAY(SELECT cp.prerequisite_id::text FROM certification_prerequisites cp
             WHERE cp.certification_id = c.id ORDER BY 1) AS prerequisites
FROM certifications c WHERE c.id IN (SELECT id FROM affected)`

// RulesForExam loads the earning rules a pass of exam may trigger.
func (s Transcript) RulesForExam(ctx context.Context, exam string) ([]transcript.Rule, error) {
	var rows []ruleRow
	if err := s.sel(ctx, &rows, rulesForExamSQL, exam); err != nil {
		return nil, fmt.Errorf("load earning rules: %w", err)
	}
	out := make([]transcript.Rule, len(rows))
	for i, r := range rows {
		rule := transcript.Rule{Certification: r.certificationRow.domain()}
		if err := json.Unmarshal(r.Paths, &rule.Paths); err != nil {
			return nil, fmt.Errorf("decode paths of %s: %w", r.Code, err)
		}
		for _, p := range r.Prerequisites {
			id, err := uuid.Parse(p)
			if err != nil {
				return nil, fmt.Errorf("prerequisite of %s: %w", r.Code, err)
			}
			rule.Prerequisites = append(rule.Prerequisites, id)
		}
		out[i] = rule
	}
	return out, nil
}

// PassesOf lists a profile's passed exams with their UTC days.
func (s Transcript) PassesOf(ctx context.Context, profileID uuid.UUID) ([]transcript.Pass, error) {
	var rows []struct {
		Exam    string    `db:"exam_code"`
		TakenAt time.Time `db:"taken_at"`
	}
	if err := s.sel(ctx, &rows, `SELECT exam_code, taken_at FROM exam_results WHERE profile_id = $1 AND passed`, profileID); err != nil {
		return nil, fmt.Errorf("load passes: %w", err)
	}
	out := make([]transcript.Pass, len(rows))
	for i, r := range rows {
		out[i] = transcript.Pass{Exam: r.Exam, Day: date.Of(r.TakenAt)}
	}
	return out, nil
}

// EarnedOf lists every earned certification of a profile.
func (s Transcript) EarnedOf(ctx context.Context, profileID uuid.UUID) ([]transcript.Earned, error) {
	var rows []earnedRow
	if err := s.sel(ctx, &rows, `SELECT `+earnedColumns+` FROM earned_certifications e WHERE e.profile_id = $1`, profileID); err != nil {
		return nil, fmt.Errorf("load earned certifications: %w", err)
	}
	return earnedList(rows), nil
}

// InsertEarned stores records earned by the result resultID.
func (s Transcript) InsertEarned(ctx context.Context, list []transcript.Earned, resultID uuid.UUID) ([]transcript.Earned, error) {
	out := make([]transcript.Earned, 0, len(list))
	for _, e := range list {
		var r earnedRow
		err := s.get(ctx, &r, `
INSERT INTO earned_certifications AS e (profile_id, certification_id, earned_on, expires_on, created_at, exam_result_id)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING `+earnedColumns, e.ProfileID, e.CertificationID, e.EarnedOn, e.ExpiresOn, e.CreatedAt, resultID)
		if err != nil {
			return nil, fmt.Errorf("insert earned certification: %w", err)
		}
		out = append(out, r.domain())
	}
	return out, nil
}

// EarnedByResult lists the records a result earned, by day and certification code.
func (s Transcript) EarnedByResult(ctx context.Context, resultID uuid.UUID) ([]transcript.Earned, error) {
	var rows []earnedRow
	if err := s.sel(ctx, &rows, `SELECT `+earnedColumns+`
FROM earned_certifications e JOIN certifications c ON c.id = e.certification_id
WHERE e.exam_result_id = $1 ORDER BY e.earned_on, c.code`, resultID); err != nil {
		return nil, fmt.Errorf("load earned certifications of a result: %w", err)
	}
	return earnedList(rows), nil
}

// statusSQL is transcript.StatusFilter.Matches in SQL, on parameters $n..$n+5: today,
// renewable-through, and whether ACTIVE, RENEWABLE, EXPIRED, SUPERSEDED are wanted. It only
// compares stored columns with dates, so it filters inside the keyset scan.
func statusSQL(n int) string {
	p := func(i int) string { return "$" + strconv.Itoa(n+i) }
	return `(CASE WHEN e.superseded_at IS NOT NULL THEN ` + p(5) + `::bool
      WHEN e.expires_on IS NULL THEN ` + p(2) + `::bool
      WHEN e.expires_on <= ` + p(0) + `::date THEN ` + p(4) + `::bool
      WHEN e.expires_on <= ` + p(1) + `::date THEN ` + p(3) + `::bool
      ELSE ` + p(2) + `::bool END)`
}

func statusArgs(f transcript.StatusFilter) []any {
	return []any{f.Today, f.RenewableThrough, f.Active, f.Renewable, f.Expired, f.Superseded}
}

// currentAssessmentsSQL is the newest version of every renewal assessment, one row per
// certification. A page joins it rather than looking up each row's assessment in a LATERAL
// subquery: the catalog is small, so PostgreSQL reads it once per statement (one hash) instead
// of starting a subquery, with its own hash, for every row of the page (issue 12: a fifth of
// the dashboard statement's CPU).
const currentAssessmentsSQL = `
    SELECT DISTINCT ON (a.certification_id) ` + assessmentColumns + `
    FROM renewal_assessments a JOIN assessment_versions v ON v.assessment_id = a.id
    ORDER BY a.certification_id, v.version DESC
`

// earnedPagesSQL takes one page per profile: a LATERAL subquery walks each profile's
// (profile_id, earned_on, id) index backwards from the cursor and stops after $5 rows; the
// certifications come along so listing needs no lookup per item.
var earnedPagesSQL = `
SELECT e.*, ` + prefixedCertColumns + `, ` + prefixedAssessmentColumns + `
FROM unnest($1::uuid[]) AS k(profile_id)
CROSS JOIN LATERAL (
    SELECT ` + earnedColumns + ` FROM earned_certifications e
    WHERE e.profile_id = k.profile_id
      AND (NOT $2::bool OR (e.earned_on, e.id) < ($3::date, $4::uuid))
      AND ` + statusSQL(6) + `
    ORDER BY e.earned_on DESC, e.id DESC
    LIMIT $5
) e
JOIN certifications c ON c.id = e.certification_id
LEFT JOIN (` + currentAssessmentsSQL + `) av ON av.certification_id = c.id
ORDER BY e.profile_id, e.earned_on DESC, e.id DESC`

// earnedPagesWithTotalSQL is earnedPagesSQL that also counts each profile's matching rows in
// the same statement (one round trip for a page and its totalCount: issue 8).
var earnedPagesWithTotalSQL = strings.Replace(strings.Replace(earnedPagesSQL,
	"SELECT e.*, ", "SELECT e.*, t.total, ", 1),
	"JOIN certifications c ON c.id = e.certification_id", earnedTotalLateral+`
JOIN certifications c ON c.id = e.certification_id`, 1)

// earnedTotalSQL counts the rows of profile k.profile_id that match the page's status filter.
var earnedTotalSQL = `SELECT count(*) AS total FROM earned_certifications e
    WHERE e.profile_id = k.profile_id AND ` + statusSQL(6)

// earnedTotalLateral is how earnedPagesWithTotalSQL joins earnedTotalSQL to each profile.
var earnedTotalLateral = `CROSS JOIN LATERAL (
    ` + earnedTotalSQL + `
) t`

var earnedPagesOneSQL, earnedPagesWithTotalOneSQL = oneProfile(earnedPagesSQL), oneProfile(earnedPagesWithTotalSQL)

// prefixedCertColumns reads a certification into a nested `cert` struct.
const prefixedCertColumns = `c.id AS "cert.id", c.code AS "cert.code", c.name AS "cert.name", c.level AS "cert.level",
       c.released_on AS "cert.released_on", c.retired_on AS "cert.retired_on", c.languages AS "cert.languages"`

// prefixedAssessmentColumns reads the certification's current renewal assessment (NULLs when
// it has none) into a nested `asmt` struct, so a page primes the assessment loader too.
const prefixedAssessmentColumns = `av.id AS "asmt.id", av.assessment_id AS "asmt.assessment_id",
       av.certification_id AS "asmt.certification_id", av.version AS "asmt.version", av.languages AS "asmt.languages",
       av.passing_score AS "asmt.passing_score", av.questions_per_attempt AS "asmt.questions_per_attempt",
       av.published_at AS "asmt.published_at"`

// optionalAssessmentRow is assessmentRow where every column may be NULL (no assessment).
type optionalAssessmentRow struct {
	ID              *uuid.UUID     `db:"id"`
	AssessmentID    *uuid.UUID     `db:"assessment_id"`
	CertificationID *uuid.UUID     `db:"certification_id"`
	Version         *int           `db:"version"`
	Languages       pq.StringArray `db:"languages"`
	PassingScore    *int           `db:"passing_score"`
	QuestionCount   *int           `db:"questions_per_attempt"`
	PublishedAt     *time.Time     `db:"published_at"`
}

func (r optionalAssessmentRow) domain() *catalog.Assessment {
	if r.ID == nil || r.AssessmentID == nil || r.CertificationID == nil || r.Version == nil ||
		r.PassingScore == nil || r.QuestionCount == nil || r.PublishedAt == nil {
		return nil
	}
	a := assessmentRow{ID: *r.ID, AssessmentID: *r.AssessmentID, CertificationID: *r.CertificationID, Version: *r.Version,
		Languages: r.Languages, PassingScore: *r.PassingScore, QuestionCount: *r.QuestionCount, PublishedAt: *r.PublishedAt}.domain()
	return &a
}

type earnedWithCertRow struct {
	earnedRow
	Cert  certificationRow      `db:"cert"`
	Asmt  optionalAssessmentRow `db:"asmt"`
	Total int                   `db:"total"`
}

// EarnedPages loads up to q.First+1 earned certifications per profile, newest first.
func (s Transcript) EarnedPages(ctx context.Context, profileIDs []uuid.UUID, q transcript.EarnedQuery) ([]transcript.EarnedPage, error) {
	query := pageSQL(profileIDs, earnedPagesSQL, earnedPagesOneSQL)
	if q.WithTotal {
		query = pageSQL(profileIDs, earnedPagesWithTotalSQL, earnedPagesWithTotalOneSQL)
	}
	var rows []earnedWithCertRow
	if err := s.sel(ctx, &rows, query, earnedPageArgs(profileIDs, q)...); err != nil {
		return nil, fmt.Errorf("page earned certifications: %w", err)
	}
	out := make([]transcript.EarnedPage, len(profileIDs))
	for i, g := range groupByKey(profileIDs, rows, func(r earnedWithCertRow) (uuid.UUID, earnedWithCertRow) { return r.ProfileID, r }) {
		for _, r := range g {
			r.addTo(&out[i])
		}
	}
	return out, nil
}

// earnedPageArgs are the arguments of a per-profile page statement; with one profile, the
// statement is its oneProfile form (see there).
func earnedPageArgs(profileIDs []uuid.UUID, q transcript.EarnedQuery) []any {
	return append([]any{profileArg(profileIDs), q.HasAfter, q.AfterOn, q.AfterID, q.First + 1}, statusArgs(q.Filter)...)
}

// oneProfile is a per-profile page statement for a single profile (a screen showing one
// profile, the common case): a scalar parameter instead of an array. PostgreSQL then keeps
// one generic plan for the prepared statement; with an array of unknown length every custom
// plan looks cheaper than the generic one, so it would plan the statement on every execution.
func oneProfile(query string) string {
	return strings.Replace(query, "FROM unnest($1::uuid[]) AS k(profile_id)", "FROM (SELECT $1::uuid AS profile_id) AS k", 1)
}

// profileArg is the $1 of a per-profile page statement: the array, or oneProfile's scalar.
func profileArg(profileIDs []uuid.UUID) any {
	if len(profileIDs) == 1 {
		return profileIDs[0]
	}
	return pq.Array(profileIDs)
}

// pageSQL picks the statement for profileIDs: the batch form, or oneProfile's.
func pageSQL(profileIDs []uuid.UUID, batch, one string) string {
	if len(profileIDs) == 1 {
		return one
	}
	return batch
}

// addTo appends the row to its page.
func (r *earnedWithCertRow) addTo(p *transcript.EarnedPage) {
	p.Earned = append(p.Earned, r.earnedRow.domain())
	p.Certifications = append(p.Certifications, r.Cert.domain())
	p.Assessments = append(p.Assessments, r.Asmt.domain())
	p.Total = r.Total
}

type countRow struct {
	ProfileID uuid.UUID `db:"profile_id"`
	N         int       `db:"n"`
}

func counts(ids []uuid.UUID, rows []countRow) []int {
	by := make(map[uuid.UUID]int, len(rows))
	for _, r := range rows {
		by[r.ProfileID] = r.N
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = by[id]
	}
	return out
}

// CountEarned counts each profile's earned certifications matching f.
func (s Transcript) CountEarned(ctx context.Context, profileIDs []uuid.UUID, f transcript.StatusFilter) ([]int, error) {
	var rows []countRow
	args := append([]any{pq.Array(profileIDs)}, statusArgs(f)...)
	if err := s.sel(ctx, &rows, `SELECT e.profile_id, count(*) AS n FROM earned_certifications e
WHERE e.profile_id = ANY($1) AND `+statusSQL(2)+` GROUP BY e.profile_id`, args...); err != nil {
		return nil, fmt.Errorf("count earned certifications: %w", err)
	}
	return counts(profileIDs, rows), nil
}

// resultPagesSQL is earnedPagesSQL for exam results, on (profile_id, taken_at, id), with the
// exams.
const resultPagesSQL = `
SELECT r.*, x.code AS "exam.code", x.title AS "exam.title", x.languages AS "exam.languages",
       x.retired_on AS "exam.retired_on", x.supersedes AS "exam.supersedes"
FROM unnest($1::uuid[]) AS k(profile_id)
CROSS JOIN LATERAL (
    SELECT ` + resultColumns + ` FROM exam_results r
    WHERE r.profile_id = k.profile_id
      AND (NOT $2::bool OR (r.taken_at, r.id) < ($3::timestamptz, $4::uuid))
    ORDER BY r.taken_at DESC, r.id DESC
    LIMIT $5
) r
JOIN exams x ON x.code = r.exam_code
ORDER BY r.profile_id, r.taken_at DESC, r.id DESC`

var resultPagesOneSQL = oneProfile(resultPagesSQL)

type resultWithExamRow struct {
	resultRow
	Exam examRow `db:"exam"`
}

// ResultPages loads up to q.First+1 exam results per profile, newest first.
func (s Transcript) ResultPages(ctx context.Context, profileIDs []uuid.UUID, q transcript.ResultQuery) ([]transcript.ResultPage, error) {
	var rows []resultWithExamRow
	if err := s.sel(ctx, &rows, pageSQL(profileIDs, resultPagesSQL, resultPagesOneSQL), profileArg(profileIDs), q.HasAfter, q.AfterAt, q.AfterID, q.First+1); err != nil {
		return nil, fmt.Errorf("page exam results: %w", err)
	}
	groups := groupByKey(profileIDs, rows, func(r resultWithExamRow) (uuid.UUID, resultWithExamRow) { return r.ProfileID, r })
	out := make([]transcript.ResultPage, len(groups))
	for i, g := range groups {
		for _, r := range g {
			out[i].Results = append(out[i].Results, r.resultRow.domain())
			out[i].Exams = append(out[i].Exams, r.Exam.domain())
		}
	}
	return out, nil
}

// CountResults counts each profile's exam results.
func (s Transcript) CountResults(ctx context.Context, profileIDs []uuid.UUID) ([]int, error) {
	var rows []countRow
	if err := s.sel(ctx, &rows, `SELECT profile_id, count(*) AS n FROM exam_results
WHERE profile_id = ANY($1) GROUP BY profile_id`, pq.Array(profileIDs)); err != nil {
		return nil, fmt.Errorf("count exam results: %w", err)
	}
	return counts(profileIDs, rows), nil
}

// EarnedByIDs loads earned certifications in key order.
func (s Transcript) EarnedByIDs(ctx context.Context, ids []uuid.UUID) ([]*transcript.HeldEarned, []error) {
	var rows []struct {
		earnedRow
		Owner uuid.UUID `db:"owner"`
	}
	if err := s.sel(ctx, &rows, `SELECT `+earnedColumns+`, p.account_id AS owner
FROM earned_certifications e JOIN certification_profiles p ON p.id = e.profile_id WHERE e.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r struct {
		earnedRow
		Owner uuid.UUID `db:"owner"`
	}) (uuid.UUID, transcript.HeldEarned) {
		return r.ID, transcript.HeldEarned{Earned: r.domain(), Owner: r.Owner}
	}, "earned certification")
}

// ResultsByIDs loads exam results in key order.
func (s Transcript) ResultsByIDs(ctx context.Context, ids []uuid.UUID) ([]*transcript.ExamResult, []error) {
	var rows []resultRow
	if err := s.sel(ctx, &rows, `SELECT `+resultColumns+` FROM exam_results r WHERE r.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r resultRow) (uuid.UUID, transcript.ExamResult) { return r.ID, r.domain() }, "exam result")
}

type shareRow struct {
	ID        uuid.UUID  `db:"id"`
	ProfileID uuid.UUID  `db:"profile_id"`
	Code      string     `db:"code"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt *time.Time `db:"expires_at"`
	RevokedAt *time.Time `db:"revoked_at"`
	ViewCount int        `db:"view_count"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r shareRow) domain() transcript.Share {
	return transcript.Share{ID: r.ID, ProfileID: r.ProfileID, Code: r.Code, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: utcPtr(r.ExpiresAt), RevokedAt: utcPtr(r.RevokedAt), ViewCount: r.ViewCount}
}

const shareColumns = `s.id, s.profile_id, s.code, s.created_at, s.expires_at, s.revoked_at, s.view_count`

// InsertShare stores a new share.
func (s Transcript) InsertShare(ctx context.Context, in transcript.Share) (transcript.Share, error) {
	var r shareRow
	if err := s.get(ctx, &r, `INSERT INTO transcript_shares AS s (profile_id, code, created_at, expires_at)
VALUES ($1, $2, $3, $4) RETURNING `+shareColumns, in.ProfileID, in.Code, in.CreatedAt, in.ExpiresAt); err != nil {
		return transcript.Share{}, fmt.Errorf("insert share: %w", err)
	}
	return r.domain(), nil
}

// ShareByID loads a share.
func (s Transcript) ShareByID(ctx context.Context, id uuid.UUID) (transcript.Share, error) {
	var r shareRow
	if err := s.get(ctx, &r, `SELECT `+shareColumns+` FROM transcript_shares s WHERE s.id = $1`, id); err != nil {
		return transcript.Share{}, notFound(err, "transcript share")
	}
	return r.domain(), nil
}

// RevokeShare sets revoked_at unless it is set already.
func (s Transcript) RevokeShare(ctx context.Context, id uuid.UUID, at time.Time) (transcript.Share, error) {
	var r shareRow
	if err := s.get(ctx, &r, `UPDATE transcript_shares s SET revoked_at = COALESCE(s.revoked_at, $2)
WHERE s.id = $1 RETURNING `+shareColumns, id, at); err != nil {
		return transcript.Share{}, notFound(err, "transcript share")
	}
	return r.domain(), nil
}

// liveShareSQL is true for a share not revoked and not expired at $2.
const liveShareSQL = `(s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > $2))`

// SharesByProfileIDs lists at most limit shares per profile, live ones first, each newest first.
func (s Transcript) SharesByProfileIDs(ctx context.Context, ids []uuid.UUID, now time.Time, limit int) ([][]transcript.Share, error) {
	var rows []shareRow
	if err := s.sel(ctx, &rows, `SELECT `+shareColumns+` FROM (
  SELECT s.*, `+liveShareSQL+` AS live, row_number() OVER (PARTITION BY s.profile_id
    ORDER BY `+liveShareSQL+` DESC, s.created_at DESC, s.id DESC) AS n
  FROM transcript_shares s WHERE s.profile_id = ANY($1)) s
WHERE s.n <= $3 ORDER BY s.live DESC, s.created_at DESC, s.id DESC`, pq.Array(ids), now, limit); err != nil {
		return nil, fmt.Errorf("load shares: %w", err)
	}
	return groupByKey(ids, rows, func(r shareRow) (uuid.UUID, transcript.Share) { return r.ProfileID, r.domain() }), nil
}

// CountLiveShares counts a profile's shares that are not revoked and not expired at now.
func (s Transcript) CountLiveShares(ctx context.Context, profileID uuid.UUID, now time.Time) (int, error) {
	var n int
	if err := s.get(ctx, &n, `SELECT count(*) FROM transcript_shares s WHERE s.profile_id = $1 AND `+liveShareSQL,
		profileID, now); err != nil {
		return 0, fmt.Errorf("count live shares: %w", err)
	}
	return n, nil
}

// LockProfile locks one certification profile row.
func (s Transcript) LockProfile(ctx context.Context, id uuid.UUID) (certprofile.Profile, error) {
	return CertProfile{s.Store}.LockProfile(ctx, id)
}

// ViewShare counts one view of a live share atomically and returns its profile. Unknown,
// revoked and expired codes all take this one indexed statement and find no row.
func (s Transcript) ViewShare(ctx context.Context, code string, now time.Time) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.get(ctx, &id, `UPDATE transcript_shares SET view_count = view_count + 1
WHERE code = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
RETURNING profile_id`, code, now)
	if err != nil {
		return uuid.Nil, notFound(err, "transcript")
	}
	return id, nil
}

// survivorSQL follows merged_into from a profile id to the end of the chain.
const survivorSQL = `
WITH RECURSIVE chain AS (
    SELECT p.id, p.mcid, p.legal_name, p.merged_into, 0 AS depth FROM certification_profiles p WHERE p.id = $1
  UNION ALL
    SELECT p.id, p.mcid, p.legal_name, p.merged_into, c.depth + 1
    FROM certification_profiles p JOIN chain c ON p.id = c.merged_into WHERE c.depth < 32
)
SELECT id, mcid, legal_name FROM chain ORDER BY depth DESC LIMIT 1`

// PublicOf loads the public transcript of a profile's survivor: name, MCID, the latest
// MaxPublicItems unsuperseded certifications and passed exams, newest first. Nothing else is read.
func (s Transcript) PublicOf(ctx context.Context, profileID uuid.UUID) (transcript.Public, error) {
	var p struct {
		ID        uuid.UUID `db:"id"`
		MCID      int64     `db:"mcid"`
		LegalName string    `db:"legal_name"`
	}
	if err := s.get(ctx, &p, survivorSQL, profileID); err != nil {
		return transcript.Public{}, notFound(err, "transcript")
	}
	var earned []earnedRow
	if err := s.sel(ctx, &earned, `SELECT `+earnedColumns+` FROM earned_certifications e
WHERE e.profile_id = $1 AND e.superseded_at IS NULL ORDER BY e.earned_on DESC, e.id DESC LIMIT $2`,
		p.ID, transcript.MaxPublicItems); err != nil {
		return transcript.Public{}, fmt.Errorf("load transcript certifications: %w", err)
	}
	var results []resultRow
	if err := s.sel(ctx, &results, `SELECT `+resultColumns+` FROM exam_results r
WHERE r.profile_id = $1 AND r.passed ORDER BY r.taken_at DESC, r.id DESC LIMIT $2`,
		p.ID, transcript.MaxPublicItems); err != nil {
		return transcript.Public{}, fmt.Errorf("load transcript exams: %w", err)
	}
	out := transcript.Public{LegalName: p.LegalName, MCID: strconv.FormatInt(p.MCID, 10),
		Certifications: earnedList(earned), ExamResults: make([]transcript.ExamResult, len(results))}
	for i, r := range results {
		out.ExamResults[i] = r.domain()
	}
	return out, nil
}

// ProfilesByIDs loads certification profiles in key order.
func (s Transcript) ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Profile, []error) {
	return CertProfile{s.Store}.ProfilesByIDs(ctx, ids)
}
