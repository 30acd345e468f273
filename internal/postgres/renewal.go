package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/learner"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/transcript"
)

// Identifiers of this file start with "renewal" or "rn" so they never collide with those the
// other domains add to this package.

var _ renewal.Store = Renewal{}

// InTx runs fn in one transaction on a Renewal bound to it.
func (s Renewal) InTx(ctx context.Context, fn func(tx renewal.Store) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(Renewal{tx}) })
}

// rnUUIDs scans a uuid[] column.
type rnUUIDs []uuid.UUID

func (u *rnUUIDs) Scan(src any) error {
	var ss pq.StringArray
	if err := ss.Scan(src); err != nil {
		return err
	}
	out := make([]uuid.UUID, len(ss))
	for i, s := range ss {
		id, err := uuid.Parse(s)
		if err != nil {
			return fmt.Errorf("scan uuid[]: %w", err)
		}
		out[i] = id
	}
	*u = out
	return nil
}

func rnUUIDArray(ids []uuid.UUID) any {
	ss := make([]string, len(ids))
	for i, id := range ids {
		ss[i] = id.String()
	}
	return pq.Array(ss)
}

type rnHoldingRow struct {
	earnedRow
	OwnerAccountID uuid.UUID `db:"owner_account_id"`
}

// The earned row is locked on its own and joined to its profile afterwards: with the lock in
// the join (FOR UPDATE OF e), a start or submit that waited on a merge re-checked the join
// against the duplicate's old row and found nothing. Locked in a CTE, the row is re-read after
// the wait and joined to the profile it belongs to now.
const rnLockHoldingSQL = `
WITH e AS (SELECT * FROM earned_certifications WHERE id = $1 FOR UPDATE)
SELECT ` + earnedColumns + `, p.account_id AS owner_account_id
FROM e JOIN certification_profiles p ON p.id = e.profile_id`

const rnLockHoldingOfAttemptSQL = `
WITH e AS (
    SELECT * FROM earned_certifications
    WHERE id = (SELECT earned_certification_id FROM assessment_attempts WHERE id = $1)
    FOR UPDATE)
SELECT ` + earnedColumns + `, p.account_id AS owner_account_id
FROM e JOIN certification_profiles p ON p.id = e.profile_id`

// The link row is share-locked: an unlink racing with a start waits for it to commit.
const rnLinkSQL = `SELECT learn_profile_id FROM profile_links WHERE certification_profile_id = $1 FOR SHARE`

func (s Renewal) lockHolding(ctx context.Context, query string, id uuid.UUID) (renewal.Holding, error) {
	var r rnHoldingRow
	if err := s.get(ctx, &r, query, id); err != nil {
		return renewal.Holding{}, notFound(err, "earned certification")
	}
	var links []uuid.UUID
	if err := s.sel(ctx, &links, rnLinkSQL, r.ProfileID); err != nil {
		return renewal.Holding{}, fmt.Errorf("load profile link: %w", err)
	}
	return renewal.Holding{Earned: r.domain(), OwnerAccountID: r.OwnerAccountID, Linked: len(links) > 0}, nil
}

// LockHolding locks an earned certification and loads its owner and link.
func (s Renewal) LockHolding(ctx context.Context, earnedID uuid.UUID) (renewal.Holding, error) {
	return s.lockHolding(ctx, rnLockHoldingSQL, earnedID)
}

// LockHoldingOfAttempt locks the earned certification of an attempt.
func (s Renewal) LockHoldingOfAttempt(ctx context.Context, attemptID uuid.UUID) (renewal.Holding, error) {
	return s.lockHolding(ctx, rnLockHoldingOfAttemptSQL, attemptID)
}

// CertificationByID loads a certification.
func (s Renewal) CertificationByID(ctx context.Context, id uuid.UUID) (catalog.Certification, error) {
	var r certificationRow
	if err := s.get(ctx, &r, `SELECT `+certColumns+` FROM certifications c WHERE c.id = $1`, id); err != nil {
		return catalog.Certification{}, notFound(err, "certification")
	}
	return r.domain(), nil
}

// CertificationByCode loads a certification.
func (s Renewal) CertificationByCode(ctx context.Context, code string) (catalog.Certification, error) {
	return Catalog{s.Store}.CertificationByCode(ctx, code)
}

// CurrentAssessment loads the newest version of a certification's assessment, nil if none.
func (s Renewal) CurrentAssessment(ctx context.Context, certID uuid.UUID) (*catalog.Assessment, error) {
	list, err := Catalog{s.Store}.CurrentAssessmentsByCertIDs(ctx, []uuid.UUID{certID})
	if err != nil {
		return nil, err
	}
	return list[0], nil
}

// AssessmentVersion loads one assessment version.
func (s Renewal) AssessmentVersion(ctx context.Context, versionID uuid.UUID) (catalog.Assessment, error) {
	list, errs := Catalog{s.Store}.AssessmentsByVersionIDs(ctx, []uuid.UUID{versionID})
	if errs != nil && errs[0] != nil {
		return catalog.Assessment{}, errs[0]
	}
	return *list[0], nil
}

// rnAttemptRow is an attempt as a row, or as json (StatusPages).
type rnAttemptRow struct {
	ID             uuid.UUID  `db:"id" json:"id"`
	EarnedID       uuid.UUID  `db:"earned_certification_id" json:"earned_certification_id"`
	VersionID      uuid.UUID  `db:"version_id" json:"version_id"`
	Version        int        `db:"version" json:"version"`
	Language       string     `db:"language" json:"language"`
	CycleExpiresOn date.Date  `db:"cycle_expires_on" json:"cycle_expires_on"`
	StartedAt      time.Time  `db:"started_at" json:"started_at"`
	SubmittedAt    *time.Time `db:"submitted_at" json:"submitted_at"`
	Score          *int       `db:"score" json:"score"`
	Passed         *bool      `db:"passed" json:"passed"`
}

func (r rnAttemptRow) domain() renewal.Attempt {
	a := renewal.Attempt{ID: r.ID, EarnedID: r.EarnedID, VersionID: r.VersionID, Version: r.Version,
		Language: r.Language, CycleExpiresOn: r.CycleExpiresOn, StartedAt: r.StartedAt.UTC(),
		Score: r.Score, Passed: r.Passed}
	if r.SubmittedAt != nil {
		t := r.SubmittedAt.UTC()
		a.SubmittedAt = &t
	}
	return a
}

const rnAttemptSelect = `
SELECT t.id, t.earned_certification_id, t.version_id, v.version, t.language, t.cycle_expires_on,
       t.started_at, t.submitted_at, t.score, t.passed
FROM assessment_attempts t JOIN assessment_versions v ON v.id = t.version_id`

func rnAttempts(rows []rnAttemptRow) []renewal.Attempt {
	out := make([]renewal.Attempt, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out
}

// AttemptsOf lists an earned certification's attempts, oldest first.
func (s Renewal) AttemptsOf(ctx context.Context, earnedID uuid.UUID) ([]renewal.Attempt, error) {
	var rows []rnAttemptRow
	if err := s.sel(ctx, &rows, rnAttemptSelect+`
WHERE t.earned_certification_id = $1 ORDER BY t.started_at, t.id`, earnedID); err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return rnAttempts(rows), nil
}

type rnBankRow struct {
	QuestionID uuid.UUID `db:"question_id"`
	Prompt     string    `db:"prompt"`
	Multiple   bool      `db:"multiple_answers"`
	ChoiceID   uuid.UUID `db:"choice_id"`
	Text       string    `db:"text"`
	Correct    bool      `db:"correct"`
}

// Bank loads the question bank of a version in bank order.
func (s Renewal) Bank(ctx context.Context, versionID uuid.UUID) ([]catalog.Question, error) {
	var rows []rnBankRow
	if err := s.sel(ctx, &rows, `
SELECT q.id AS question_id, q.prompt, q.multiple_answers, c.id AS choice_id, c.text, c.correct
FROM assessment_questions q JOIN assessment_choices c ON c.question_id = q.id
WHERE q.version_id = $1 ORDER BY q.position, c.position`, versionID); err != nil {
		return nil, err
	}
	var out []catalog.Question
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].ID != r.QuestionID {
			out = append(out, catalog.Question{ID: r.QuestionID, Prompt: r.Prompt, MultipleAnswers: r.Multiple})
		}
		q := &out[len(out)-1]
		q.Choices = append(q.Choices, catalog.Choice{ID: r.ChoiceID, Text: r.Text, Correct: r.Correct})
	}
	return out, nil
}

const rnInsertAttemptSQL = `
INSERT INTO assessment_attempts (earned_certification_id, version_id, language, cycle_expires_on, started_at)
VALUES ($1, $2, $3, $4, $5) RETURNING id`

// rnInsertServedSQL stores the served questions of an attempt from parallel arrays; the
// choice orders travel as one JSON array of arrays because PostgreSQL cannot unnest a
// ragged uuid[][].
const rnInsertServedSQL = `
INSERT INTO attempt_questions (attempt_id, question_id, position, choice_order)
SELECT $1, q.question_id, q.position,
       ARRAY(SELECT e.c::uuid FROM jsonb_array_elements_text($3::jsonb -> (q.position - 1)::int)
             WITH ORDINALITY AS e(c, n) ORDER BY e.n)
FROM unnest($2::uuid[]) WITH ORDINALITY AS q(question_id, position)`

// InsertAttempt stores an attempt and its served questions.
func (s Renewal) InsertAttempt(ctx context.Context, a renewal.Attempt, served []renewal.Served) (renewal.Attempt, error) {
	if err := s.get(ctx, &a.ID, rnInsertAttemptSQL, a.EarnedID, a.VersionID, a.Language, a.CycleExpiresOn, a.StartedAt); err != nil {
		return renewal.Attempt{}, fmt.Errorf("insert attempt: %w", err)
	}
	questions := make([]uuid.UUID, len(served))
	orders := make([][]uuid.UUID, len(served))
	for i, q := range served {
		questions[i], orders[i] = q.QuestionID, q.ChoiceOrder
	}
	ordersJSON, err := json.Marshal(orders)
	if err != nil {
		return renewal.Attempt{}, err
	}
	if _, err := s.exec(ctx, rnInsertServedSQL, a.ID, rnUUIDArray(questions), string(ordersJSON)); err != nil {
		return renewal.Attempt{}, fmt.Errorf("insert served questions: %w", err)
	}
	return a, nil
}

// LockAttempt loads an attempt locked FOR UPDATE.
func (s Renewal) LockAttempt(ctx context.Context, id uuid.UUID) (renewal.Attempt, error) {
	var r rnAttemptRow
	if err := s.get(ctx, &r, rnAttemptSelect+` WHERE t.id = $1 FOR UPDATE OF t`, id); err != nil {
		return renewal.Attempt{}, notFound(err, "attempt")
	}
	return r.domain(), nil
}

type rnKeyRow struct {
	QuestionID uuid.UUID `db:"question_id"`
	Choices    rnUUIDs   `db:"choice_order"`
	Correct    rnUUIDs   `db:"correct"`
}

// AnswerKey loads the key of each question served to an attempt, in served order.
func (s Renewal) AnswerKey(ctx context.Context, attemptID uuid.UUID) ([]renewal.Key, error) {
	var rows []rnKeyRow
	if err := s.sel(ctx, &rows, `
SELECT aq.question_id, aq.choice_order,
       ARRAY(SELECT c.id FROM assessment_choices c WHERE c.question_id = aq.question_id AND c.correct) AS correct
FROM attempt_questions aq WHERE aq.attempt_id = $1 ORDER BY aq.position`, attemptID); err != nil {
		return nil, err
	}
	out := make([]renewal.Key, len(rows))
	for i, r := range rows {
		out[i] = renewal.Key{QuestionID: r.QuestionID, Choices: r.Choices, Correct: r.Correct}
	}
	return out, nil
}

// FinishAttempt records a submission; only an attempt still in progress changes.
func (s Renewal) FinishAttempt(ctx context.Context, a renewal.Attempt, selected map[uuid.UUID][]uuid.UUID) error {
	res, err := s.exec(ctx, `
UPDATE assessment_attempts SET submitted_at = $2, score = $3, passed = $4
WHERE id = $1 AND submitted_at IS NULL`, a.ID, a.SubmittedAt, a.Score, a.Passed)
	if err != nil {
		return fmt.Errorf("finish attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.E(apperr.AttemptAlreadySubmitted, "this attempt has already been submitted")
	}
	sel := make(map[string][]string, len(selected))
	for q, cs := range selected {
		list := make([]string, len(cs))
		for i, c := range cs {
			list[i] = c.String()
		}
		sel[q.String()] = list
	}
	raw, err := json.Marshal(sel)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, `
UPDATE attempt_questions aq
SET selected = ARRAY(SELECT e.c::uuid FROM jsonb_array_elements_text($2::jsonb -> aq.question_id::text)
                     WITH ORDINALITY AS e(c, n) ORDER BY e.n)
WHERE aq.attempt_id = $1`, a.ID, string(raw)); err != nil {
		return fmt.Errorf("store selected choices: %w", err)
	}
	return nil
}

// Extend sets an earned certification's expiry.
func (s Renewal) Extend(ctx context.Context, earnedID uuid.UUID, expiresOn date.Date) error {
	_, err := s.exec(ctx, `UPDATE earned_certifications SET expires_on = $2 WHERE id = $1`, earnedID, expiresOn)
	return err
}

type rnRenewalRow struct {
	ID                uuid.UUID `db:"id"`
	EarnedID          uuid.UUID `db:"earned_certification_id"`
	AttemptID         uuid.UUID `db:"attempt_id"`
	RenewedAt         time.Time `db:"renewed_at"`
	PreviousExpiresOn date.Date `db:"previous_expires_on"`
	NewExpiresOn      date.Date `db:"new_expires_on"`
}

func (r rnRenewalRow) domain() renewal.Renewal {
	return renewal.Renewal{ID: r.ID, EarnedID: r.EarnedID, AttemptID: r.AttemptID, RenewedAt: r.RenewedAt.UTC(),
		PreviousExpiresOn: r.PreviousExpiresOn, NewExpiresOn: r.NewExpiresOn}
}

const rnRenewalColumns = `r.id, r.earned_certification_id, r.attempt_id, r.renewed_at, r.previous_expires_on, r.new_expires_on`

// InsertRenewal records a renewal; renewals_cycle_key and renewals_attempt_key refuse a second
// one for the same cycle or attempt.
func (s Renewal) InsertRenewal(ctx context.Context, rn renewal.Renewal) (renewal.Renewal, error) {
	var r rnRenewalRow
	err := s.get(ctx, &r, `
INSERT INTO renewals AS r (earned_certification_id, attempt_id, renewed_at, previous_expires_on, new_expires_on)
VALUES ($1, $2, $3, $4, $5) RETURNING `+rnRenewalColumns,
		rn.EarnedID, rn.AttemptID, rn.RenewedAt, rn.PreviousExpiresOn, rn.NewExpiresOn)
	if err != nil {
		return renewal.Renewal{}, fmt.Errorf("insert renewal: %w", err)
	}
	return r.domain(), nil
}

// AttemptsByIDs loads attempts in key order.
func (s Renewal) AttemptsByIDs(ctx context.Context, ids []uuid.UUID) ([]*renewal.Attempt, []error) {
	var rows []rnAttemptRow
	if err := s.sel(ctx, &rows, rnAttemptSelect+` WHERE t.id = ANY($1)`, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r rnAttemptRow) (uuid.UUID, renewal.Attempt) { return r.ID, r.domain() }, "attempt")
}

// AttemptsByEarnedIDs lists the attempts of each earned certification, oldest first.
func (s Renewal) AttemptsByEarnedIDs(ctx context.Context, ids []uuid.UUID) ([][]renewal.Attempt, error) {
	var rows []rnAttemptRow
	if err := s.sel(ctx, &rows, rnAttemptSelect+`
WHERE t.earned_certification_id = ANY($1) ORDER BY t.started_at, t.id`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load attempts: %w", err)
	}
	return groupByKey(ids, rows, func(r rnAttemptRow) (uuid.UUID, renewal.Attempt) { return r.EarnedID, r.domain() }), nil
}

// RenewalsByEarnedIDs lists the renewals of each earned certification, oldest first.
func (s Renewal) RenewalsByEarnedIDs(ctx context.Context, ids []uuid.UUID) ([][]renewal.Renewal, error) {
	var rows []rnRenewalRow
	if err := s.sel(ctx, &rows, `SELECT `+rnRenewalColumns+` FROM renewals r
WHERE r.earned_certification_id = ANY($1) ORDER BY r.renewed_at, r.id`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load renewals: %w", err)
	}
	return groupByKey(ids, rows, func(r rnRenewalRow) (uuid.UUID, renewal.Renewal) { return r.EarnedID, r.domain() }), nil
}

type rnServedRow struct {
	AttemptID  uuid.UUID `db:"attempt_id"`
	QuestionID uuid.UUID `db:"question_id"`
	Prompt     string    `db:"prompt"`
	Multiple   bool      `db:"multiple_answers"`
	ChoiceID   uuid.UUID `db:"choice_id"`
	Text       string    `db:"text"`
}

// rnServedSQL never reads assessment_choices.correct: what it loads goes to learners. The text
// is in the attempt's language (a translation's choices follow the choices' positions), English
// when the question has none in it (attempts started before their version was translated).
const rnServedSQL = `
SELECT aq.attempt_id, q.id AS question_id, COALESCE(qt.prompt, q.prompt) AS prompt, q.multiple_answers,
       c.id AS choice_id, COALESCE(qt.choices[c.position], c.text) AS text
FROM attempt_questions aq
JOIN assessment_attempts t ON t.id = aq.attempt_id
JOIN assessment_questions q ON q.id = aq.question_id
LEFT JOIN assessment_question_texts qt ON qt.question_id = q.id AND qt.language = t.language
CROSS JOIN LATERAL unnest(aq.choice_order) WITH ORDINALITY AS o(choice_id, ord)
JOIN assessment_choices c ON c.id = o.choice_id
WHERE aq.attempt_id = ANY($1)
ORDER BY aq.attempt_id, aq.position, o.ord`

// ServedByAttemptIDs loads the questions served to each attempt, in served order, with their
// choices in the order shown.
func (s Renewal) ServedByAttemptIDs(ctx context.Context, ids []uuid.UUID) ([][]renewal.ServedQuestion, error) {
	var rows []rnServedRow
	if err := s.sel(ctx, &rows, rnServedSQL, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load served questions: %w", err)
	}
	byAttempt := make(map[uuid.UUID][]renewal.ServedQuestion, len(ids))
	for _, r := range rows {
		list := byAttempt[r.AttemptID]
		if len(list) == 0 || list[len(list)-1].ID != r.QuestionID {
			list = append(list, renewal.ServedQuestion{ID: r.QuestionID, Prompt: r.Prompt, MultipleAnswers: r.Multiple})
		}
		q := &list[len(list)-1]
		q.Choices = append(q.Choices, renewal.ServedChoice{ID: r.ChoiceID, Text: r.Text})
		byAttempt[r.AttemptID] = list
	}
	out := make([][]renewal.ServedQuestion, len(ids))
	for i, id := range ids {
		out[i] = byAttempt[id]
	}
	return out, nil
}

// rnStatusPagesSQL is the earned page (with its count) plus what the renewal status of each row
// needs, in the same statement: whether the profile is connected, and the attempts of the
// row's current cycle or in progress (json, NULL when none: most rows have none). The two halves
// (this cycle's attempts; an attempt in progress of another cycle) are each a plain index scan
// (assessment_attempts_cycle_idx, assessment_attempts_one_in_progress): with their OR in one
// condition PostgreSQL chose a bitmap scan, whose set-up for every row of the page was a fifth
// of the statement's CPU though nine rows in ten have no attempt. An attempt's version number is
// a lookup by primary key, not a join: a join made PostgreSQL build a hash of the versions for
// every row of the page (issue 12).
var rnStatusPagesSQL = strings.Replace(earnedPagesWithTotalSQL,
	"SELECT e.*, ", `SELECT e.*, EXISTS (SELECT 1 FROM profile_links l WHERE l.certification_profile_id = k.profile_id) AS linked,
       (SELECT json_agg(json_build_object('id', t.id, 'earned_certification_id', t.earned_certification_id,
                 'version_id', t.version_id, 'version', (SELECT v.version FROM assessment_versions v WHERE v.id = t.version_id), 'language', t.language,
                 'cycle_expires_on', t.cycle_expires_on, 'started_at', t.started_at, 'submitted_at', t.submitted_at,
                 'score', t.score, 'passed', t.passed) ORDER BY t.started_at, t.id)
        FROM (SELECT * FROM assessment_attempts t
              WHERE t.earned_certification_id = e.id AND t.cycle_expires_on = e.expires_on
              UNION ALL
              SELECT * FROM assessment_attempts t
              WHERE t.earned_certification_id = e.id AND t.submitted_at IS NULL
                AND t.cycle_expires_on IS DISTINCT FROM e.expires_on) t) AS attempts, `, 1)

var rnStatusPagesOneSQL = oneProfile(rnStatusPagesSQL)

type rnStatusPageRow struct {
	earnedWithCertRow
	Linked   bool   `db:"linked"`
	Attempts []byte `db:"attempts"`
}

// StatusPages loads up to q.First+1 earned certifications per profile, newest first, with
// their count, certification, current assessment, the profile's link and each row's attempts
// of its cycle: one statement.
func (s Renewal) StatusPages(ctx context.Context, profileIDs []uuid.UUID, q transcript.EarnedQuery) ([]renewal.PageFacts, error) {
	var rows []rnStatusPageRow
	if err := s.sel(ctx, &rows, pageSQL(profileIDs, rnStatusPagesSQL, rnStatusPagesOneSQL), earnedPageArgs(profileIDs, q)...); err != nil {
		return nil, fmt.Errorf("page earned certifications with renewal status: %w", err)
	}
	out := make([]renewal.PageFacts, len(profileIDs))
	for i, g := range groupByKey(profileIDs, rows, func(r rnStatusPageRow) (uuid.UUID, rnStatusPageRow) { return r.ProfileID, r }) {
		for j := range g {
			if err := g[j].addTo(&out[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// addTo appends the row to its page's facts.
func (r *rnStatusPageRow) addTo(f *renewal.PageFacts) error {
	r.earnedWithCertRow.addTo(&f.EarnedPage)
	f.Linked = r.Linked
	var attempts []renewal.Attempt
	if len(r.Attempts) > 0 {
		var list []rnAttemptRow
		if err := json.Unmarshal(r.Attempts, &list); err != nil {
			return fmt.Errorf("decode attempts: %w", err)
		}
		attempts = rnAttempts(list)
	}
	f.Attempts = append(f.Attempts, attempts)
	return nil
}

// rnProfileStatusPageSQL is rnStatusPagesSQL for the profile an MCID names (the end of its
// merge chain, as ProfileAndLinkByMCID reads it), with the profile and its link, and the
// account and Learn profile of the caller's identity (accountByIdentitySQL's, NULL when it has
// none): a screen that shows a profile and its first page reads them, and authenticates, in
// one round trip. $1 is the MCID, $12 and $13 the caller's issuer and subject; the other
// parameters are the page's.
//
// The profile with its link, and the caller, are one json array each ("head.prof" and
// "head.me", headProfColumns and headMeColumns in order), built once per statement and read
// from the first row only: as 21 columns of every row they were a fifth of the driver's
// decoding and allocations of a dashboard request (issue 12).
var rnProfileStatusPageSQL = func() string {
	// The profile's count is taken once, with the profile: MATERIALIZED keeps PostgreSQL from
	// moving it into the loop over the page's rows (a generic plan did, counting once per row).
	return profileChainByMCIDSQL + `, prof AS MATERIALIZED (
    SELECT p.id AS profile_id, l.learn_profile_id IS NOT NULL AS linked,
           json_build_array(` + headProfColumns + `) AS head,
           (` + strings.ReplaceAll(earnedTotalSQL, "k.profile_id", "p.id") + `) AS total
    FROM (SELECT * FROM chain ORDER BY depth DESC LIMIT 1) p
    LEFT JOIN profile_links l ON l.certification_profile_id = p.id
), me AS MATERIALIZED (SELECT json_build_array(` + headMeColumns + `) AS head FROM (` +
		strings.NewReplacer("$1", "$12", "$2", "$13").Replace(accountByIdentitySQL) + `) a)` +
		strings.NewReplacer(
			"FROM unnest($1::uuid[]) AS k(profile_id)", "FROM prof AS k LEFT JOIN me ON true",
			"SELECT e.*, EXISTS (SELECT 1 FROM profile_links l WHERE l.certification_profile_id = k.profile_id) AS linked",
			`SELECT e.*, k.head AS "head.prof", me.head AS "head.me", k.linked`,
			earnedTotalLateral, "",
			"t.total", "k.total",
		).Replace(rnStatusPagesSQL)
}()

// headProfColumns are the profile's columns (ProfileColumns) and its link's (optionalLinkColumns
// without names), in the order of (*profileHead).fields.
const headProfColumns = ProfileColumns + `, l.learn_profile_id, l.linked_at`

// headMeColumns are accountByIdentitySQL's columns, in the order of (*optionalCallerRow).fields.
const headMeColumns = `a.id, a.issuer, a.subject, a.kind, a.email, a.display_name, a.created_at, a.lp_id, a.lp_created_at`

// profileHead is the "head.prof" array of rnProfileStatusPageSQL.
type profileHead struct {
	Prof profileRow
	Link optionalLinkRow
}

func (h *profileHead) fields() []any {
	p := &h.Prof
	return []any{&p.ID, &p.MCID, &p.AccountID, &p.LegalName, &p.Email, &p.PreferredLanguage, &p.Status,
		&p.MergedInto, &p.MergedAt, &p.CreatedAt, &h.Link.LearnProfileID, &h.Link.LinkedAt}
}

func (r *optionalCallerRow) fields() []any {
	return []any{&r.ID, &r.Issuer, &r.Subject, &r.Kind, &r.Email, &r.DisplayName, &r.CreatedAt, &r.LPID, &r.LPCreatedAt}
}

// decodeHead reads a json array of a head column into fields, in order; a NULL column leaves
// them as they are.
func decodeHead(raw []byte, fields []any) error {
	if len(raw) == 0 {
		return nil
	}
	n := len(fields)
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("decode %s: %w", raw, err)
	}
	if len(fields) != n {
		return fmt.Errorf("decode %s: %d values, want %d", raw, len(fields), n)
	}
	return nil
}

type rnProfileStatusPageRow struct {
	rnStatusPageRow
	HeadProf []byte
	HeadMe   []byte
}

// rnProfileStatusPageColumns are rnProfileStatusPageSQL's columns, in order: the dashboard's
// statement is scanned by hand (scanRows), its columns by reflection were a tenth of the
// server's CPU under load.
var rnProfileStatusPageColumns = func() []scanned[rnProfileStatusPageRow] {
	type r = rnProfileStatusPageRow
	col := func(name string, f func(*r) any) scanned[r] { return scanned[r]{name, f} }
	return []scanned[r]{
		col("id", func(r *r) any { return &r.ID }),
		col("profile_id", func(r *r) any { return &r.ProfileID }),
		col("certification_id", func(r *r) any { return &r.CertificationID }),
		col("earned_on", func(r *r) any { return &r.EarnedOn }),
		col("expires_on", func(r *r) any { return &r.ExpiresOn }),
		col("superseded_at", func(r *r) any { return &r.SupersededAt }),
		col("superseded_by", func(r *r) any { return &r.SupersededBy }),
		col("created_at", func(r *r) any { return &r.CreatedAt }),
		col("head.prof", func(r *r) any { return &r.HeadProf }),
		col("head.me", func(r *r) any { return &r.HeadMe }),
		col("linked", func(r *r) any { return &r.Linked }),
		col("attempts", func(r *r) any { return &r.Attempts }),
		col("total", func(r *r) any { return &r.Total }),
		col("cert.id", func(r *r) any { return &r.Cert.ID }),
		col("cert.code", func(r *r) any { return &r.Cert.Code }),
		col("cert.name", func(r *r) any { return &r.Cert.Name }),
		col("cert.level", func(r *r) any { return &r.Cert.Level }),
		col("cert.released_on", func(r *r) any { return &r.Cert.ReleasedOn }),
		col("cert.retired_on", func(r *r) any { return &r.Cert.RetiredOn }),
		col("cert.languages", func(r *r) any { return &r.Cert.Languages }),
		col("asmt.id", func(r *r) any { return &r.Asmt.ID }),
		col("asmt.assessment_id", func(r *r) any { return &r.Asmt.AssessmentID }),
		col("asmt.certification_id", func(r *r) any { return &r.Asmt.CertificationID }),
		col("asmt.version", func(r *r) any { return &r.Asmt.Version }),
		col("asmt.languages", func(r *r) any { return &r.Asmt.Languages }),
		col("asmt.passing_score", func(r *r) any { return &r.Asmt.PassingScore }),
		col("asmt.questions_per_attempt", func(r *r) any { return &r.Asmt.QuestionCount }),
		col("asmt.published_at", func(r *r) any { return &r.Asmt.PublishedAt }),
	}
}()

// optionalCallerRow is accountWithProfileRow LEFT JOINed: NULLs when the identity has no
// account.
type optionalCallerRow struct {
	ID          *uuid.UUID `db:"id"`
	Issuer      *string    `db:"issuer"`
	Subject     *string    `db:"subject"`
	Kind        *string    `db:"kind"`
	Email       *string    `db:"email"`
	DisplayName *string    `db:"display_name"`
	CreatedAt   *time.Time `db:"created_at"`
	LPID        *uuid.UUID `db:"lp_id"`
	LPCreatedAt *time.Time `db:"lp_created_at"`
}

func (r optionalCallerRow) domain() *learner.Caller {
	if r.ID == nil || r.Issuer == nil || r.Subject == nil || r.Kind == nil || r.CreatedAt == nil || r.LPID == nil || r.LPCreatedAt == nil {
		return nil
	}
	a := accountRow{ID: *r.ID, Issuer: *r.Issuer, Subject: *r.Subject, Kind: *r.Kind, Email: r.Email,
		DisplayName: r.DisplayName, CreatedAt: *r.CreatedAt}.domain()
	return &learner.Caller{Account: a, LearnProfile: learner.LearnProfile{ID: *r.LPID, AccountID: a.ID, CreatedAt: r.LPCreatedAt.UTC()}}
}

// ProfileStatusPage is StatusPages for the profile MCID mcid names, read with the profile, its
// link and the caller's account (issuer, subject) in the same statement.
func (s Renewal) ProfileStatusPage(ctx context.Context, issuer, subject string, mcid int64, q transcript.EarnedQuery) (renewal.ProfilePageFacts, error) {
	args := earnedPageArgs([]uuid.UUID{uuid.Nil}, q)
	args[0] = mcid
	args = append(args, issuer, subject)
	var out renewal.ProfilePageFacts
	rs, err := s.query(ctx, rnProfileStatusPageSQL, args...)
	if err != nil {
		return out, fmt.Errorf("profile and page of earned certifications: %w", err)
	}
	rows, err := scanRows(rs, rnProfileStatusPageColumns)
	if err != nil {
		return out, fmt.Errorf("profile and page of earned certifications: %w", err)
	}
	if len(rows) == 0 {
		return out, nil
	}
	for i := range rows {
		if err := rows[i].addTo(&out.Page); err != nil {
			return renewal.ProfilePageFacts{}, err
		}
	}
	var head profileHead
	var me optionalCallerRow
	if err := decodeHead(rows[0].HeadProf, head.fields()); err != nil {
		return renewal.ProfilePageFacts{}, fmt.Errorf("profile and page of earned certifications: %w", err)
	}
	if err := decodeHead(rows[0].HeadMe, me.fields()); err != nil {
		return renewal.ProfilePageFacts{}, fmt.Errorf("profile and page of earned certifications: %w", err)
	}
	out.Profile = head.Prof.domain()
	out.Link = head.Link.domain(out.Profile.ID)
	out.Caller = me.domain()
	out.Read = true
	return out, nil
}
