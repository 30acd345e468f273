package catalog

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/idem"
)

// The audit actions of catalog administration.
const (
	ActionUpsertExam          = "catalog.upsertExam"
	ActionUpsertCertification = "catalog.upsertCertification"
)

// Limits of admin input; the formats are those of the exams and certifications tables.
const (
	maxCodeLen      = 100
	maxTitleLen     = 200
	maxLanguages    = 50
	maxPaths        = MaxPaths
	maxExamsPerPath = MaxExamsPerPath
	maxPrereqs      = MaxPrerequisites
)

// Bounds of a certification's lists, which the cost model prices them by (a real programme has
// one to three paths of one or two exams, and a few prerequisites).
const (
	MaxPaths         = 5
	MaxExamsPerPath  = 5
	MaxPrerequisites = 10
)

var (
	examCodeRE = regexp.MustCompile(`^[A-Z0-9]+-[A-Z0-9]+$`)
	certCodeRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// ExamInput is what an admin gives to create or update an exam.
type ExamInput struct {
	Code       string
	Title      string
	Languages  []string
	RetiredOn  *date.Date
	Supersedes *string
}

// CertificationInput is what an admin gives to create or update a certification. The
// requirement paths and prerequisites replace the certification's current ones.
type CertificationInput struct {
	Code             string
	Name             string
	Level            Level
	ReleasedOn       date.Date
	RetiredOn        *date.Date
	Languages        []string
	RequirementPaths [][]string
	Prerequisites    []string
}

// AdminStore is the persistence catalog administration needs. Every method but InAdminTx is
// called inside the transaction InAdminTx opens.
type AdminStore interface {
	// InAdminTx runs fn in one transaction (retried on serialization failure or deadlock).
	InAdminTx(ctx context.Context, fn func(tx AdminStore) error) error
	// LockCatalog serializes catalog changes until the transaction ends, so the checks on the
	// whole prerequisite and supersedes graphs see every change committed before.
	LockCatalog(ctx context.Context) error
	ExamsByCodes(ctx context.Context, codes []string) ([]*Exam, []error)
	// ExamSupersedes maps every exam code to the code it supersedes ("" for none).
	ExamSupersedes(ctx context.Context) (map[string]string, error)
	CertificationByCode(ctx context.Context, code string) (Certification, error)
	// CertificationIDsByCodes maps the codes that exist to their ids.
	CertificationIDsByCodes(ctx context.Context, codes []string) (map[string]uuid.UUID, error)
	// PrerequisiteCodes maps every certification code to its prerequisites' codes.
	PrerequisiteCodes(ctx context.Context) (map[string][]string, error)
	PathsByCertIDs(ctx context.Context, ids []uuid.UUID) ([][][]string, error)
	// SaveExam inserts or updates an exam by code.
	SaveExam(ctx context.Context, e Exam, now time.Time) (Exam, error)
	// SaveCertification inserts or updates a certification by code and replaces its
	// requirement paths and prerequisites.
	SaveCertification(ctx context.Context, c Certification, paths [][]string, prereqs []uuid.UUID, now time.Time) (Certification, error)
	// PublishVersion stores the next version (max + 1, under a lock on the assessment) of a
	// certification's renewal assessment, creating the assessment if needed.
	PublishVersion(ctx context.Context, certID uuid.UUID, v AssessmentVersion) (Assessment, error)
	// InsertAudit records an audit event.
	audit.Store
	// ClaimKey and StoreResponse keep PublishAssessment's idempotency keys.
	idem.Store
}

// checkAdmin lets catalog admins through. Codes: UNAUTHENTICATED, FORBIDDEN.
func checkAdmin(p *auth.Principal) error {
	if p == nil {
		return apperr.Unauth("sign in to change the catalog")
	}
	if !p.HasRole(auth.RoleAdmin) {
		return apperr.Deny("only catalog admins can change the catalog")
	}
	return nil
}

func (s *Service) admin() (AdminStore, error) {
	a, ok := s.store.(AdminStore)
	if !ok {
		return nil, fmt.Errorf("catalog store %T cannot administer the catalog", s.store)
	}
	return a, nil
}

// UpsertExam creates the exam with in.Code or replaces its title, languages, retirement and
// supersedes, in one transaction with its audit event (action catalog.upsertExam).
// Codes: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT (format, empty languages, unknown or
// circular supersedes).
func (s *Service) UpsertExam(ctx context.Context, p *auth.Principal, in ExamInput) (Exam, error) {
	if err := checkAdmin(p); err != nil {
		return Exam{}, err
	}
	e, err := ValidateExam(in)
	if err != nil {
		return Exam{}, err
	}
	store, err := s.admin()
	if err != nil {
		return Exam{}, err
	}
	now := s.clock.Now()
	var out Exam
	err = store.InAdminTx(ctx, func(tx AdminStore) error {
		if err := tx.LockCatalog(ctx); err != nil {
			return err
		}
		chain, err := tx.ExamSupersedes(ctx)
		if err != nil {
			return err
		}
		if e.Supersedes != nil {
			if err := CheckSupersedes(e.Code, *e.Supersedes, chain); err != nil {
				return err
			}
		}
		var before *Exam
		if _, ok := chain[e.Code]; ok {
			list, errs := tx.ExamsByCodes(ctx, []string{e.Code})
			if len(errs) > 0 && errs[0] != nil {
				return errs[0]
			}
			before = list[0]
		}
		if out, err = tx.SaveExam(ctx, e, now); err != nil {
			return err
		}
		return recordChange(ctx, tx, ActionUpsertExam, p, now, e.Code, examRecordOf(before), examRecordOf(&out))
	})
	if err != nil {
		return Exam{}, fmt.Errorf("upsert exam: %w", err)
	}
	return out, nil
}

// UpsertCertification creates the certification with in.Code or updates it, replacing its
// requirement paths and prerequisites, in one transaction with its audit event (action
// catalog.upsertCertification). Codes: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT (format,
// level, dates, empty languages or paths, unknown exams or prerequisites, prerequisite cycles).
func (s *Service) UpsertCertification(ctx context.Context, p *auth.Principal, in CertificationInput) (Certification, error) {
	if err := checkAdmin(p); err != nil {
		return Certification{}, err
	}
	c, paths, prereqs, err := ValidateCertification(in)
	if err != nil {
		return Certification{}, err
	}
	store, err := s.admin()
	if err != nil {
		return Certification{}, err
	}
	now := s.clock.Now()
	var out Certification
	err = store.InAdminTx(ctx, func(tx AdminStore) error {
		if err := tx.LockCatalog(ctx); err != nil {
			return err
		}
		if err := checkExamsExist(ctx, tx, paths); err != nil {
			return err
		}
		ids, err := tx.CertificationIDsByCodes(ctx, prereqs)
		if err != nil {
			return err
		}
		prereqIDs := make([]uuid.UUID, 0, len(prereqs))
		for _, code := range prereqs {
			id, ok := ids[code]
			if !ok {
				return apperr.Invalid("prerequisite %q is not a certification of the catalog", code)
			}
			prereqIDs = append(prereqIDs, id)
		}
		graph, err := tx.PrerequisiteCodes(ctx)
		if err != nil {
			return err
		}
		if cycle := PrerequisiteCycle(c.Code, prereqs, graph); cycle != nil {
			return apperr.Invalid("prerequisites would form a cycle: %s", strings.Join(cycle, " → "))
		}
		before, err := certRecordOf(ctx, tx, c.Code, graph)
		if err != nil {
			return err
		}
		if out, err = tx.SaveCertification(ctx, c, paths, prereqIDs, now); err != nil {
			return err
		}
		after := certRecordFrom(out, paths, prereqs)
		return recordChange(ctx, tx, ActionUpsertCertification, p, now, c.Code, before, &after)
	})
	if err != nil {
		return Certification{}, fmt.Errorf("upsert certification: %w", err)
	}
	return out, nil
}

func checkExamsExist(ctx context.Context, tx AdminStore, paths [][]string) error {
	var codes []string
	for _, p := range paths {
		for _, e := range p {
			if !slices.Contains(codes, e) {
				codes = append(codes, e)
			}
		}
	}
	_, errs := tx.ExamsByCodes(ctx, codes)
	for i, err := range errs {
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Invalid("requirement paths name exam %q, which is not in the catalog", codes[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ValidateExam checks and normalizes an exam: the code upper-cased (AZ-104), title and
// languages trimmed, languages canonical BCP 47 tags without duplicates.
// Codes: BAD_USER_INPUT.
func ValidateExam(in ExamInput) (Exam, error) {
	code := strings.ToUpper(strings.TrimSpace(in.Code))
	if len(code) > maxCodeLen || !examCodeRE.MatchString(code) {
		return Exam{}, apperr.Invalid("exam code must look like AZ-104 (letters and digits, one hyphen)")
	}
	title, err := text("title", in.Title)
	if err != nil {
		return Exam{}, err
	}
	langs, err := languages(in.Languages)
	if err != nil {
		return Exam{}, err
	}
	e := Exam{Code: code, Title: title, Languages: langs, RetiredOn: in.RetiredOn}
	if in.Supersedes != nil && strings.TrimSpace(*in.Supersedes) != "" {
		sup := strings.ToUpper(strings.TrimSpace(*in.Supersedes))
		if !examCodeRE.MatchString(sup) {
			return Exam{}, apperr.Invalid("supersedes must be an exam code such as AZ-103")
		}
		if sup == code {
			return Exam{}, apperr.Invalid("an exam cannot supersede itself")
		}
		e.Supersedes = &sup
	}
	return e, nil
}

// CheckSupersedes checks that code may supersede sup, given every exam's current supersedes
// (chain, "" for none): sup must exist and must not, directly or through older exams, already
// be a successor of code. Codes: BAD_USER_INPUT.
func CheckSupersedes(code, sup string, chain map[string]string) error {
	if _, ok := chain[sup]; !ok {
		return apperr.Invalid("supersedes names exam %q, which is not in the catalog", sup)
	}
	seen := map[string]bool{code: true}
	for at := sup; at != ""; at = chain[at] {
		if seen[at] {
			return apperr.Invalid("%s cannot supersede %s: %s already supersedes %s, directly or through older exams", code, sup, sup, code)
		}
		seen[at] = true
	}
	return nil
}

// ValidateCertification checks and normalizes a certification, its requirement paths (exam
// codes upper-cased; each path non-empty, no exam twice in a path, no path twice) and its
// prerequisites (codes, without duplicates, not itself). What needs the database (the exams
// and prerequisites exist, no cycles) is checked by UpsertCertification.
// Codes: BAD_USER_INPUT.
func ValidateCertification(in CertificationInput) (Certification, [][]string, []string, error) {
	fail := func(format string, args ...any) (Certification, [][]string, []string, error) {
		return Certification{}, nil, nil, apperr.Invalid(format, args...)
	}
	code := strings.TrimSpace(in.Code)
	if len(code) > maxCodeLen || !certCodeRE.MatchString(code) {
		return fail("certification code must be a slug such as azure-administrator-associate")
	}
	name, err := text("name", in.Name)
	if err != nil {
		return Certification{}, nil, nil, err
	}
	if !in.Level.Valid() {
		return fail("level must be FUNDAMENTALS, ASSOCIATE, EXPERT or SPECIALTY")
	}
	if in.ReleasedOn.IsZero() {
		return fail("releasedOn is required")
	}
	if in.RetiredOn != nil && in.RetiredOn.Before(in.ReleasedOn) {
		return fail("retiredOn (%s) must not be before releasedOn (%s)", in.RetiredOn, in.ReleasedOn)
	}
	langs, err := languages(in.Languages)
	if err != nil {
		return Certification{}, nil, nil, err
	}
	if len(in.RequirementPaths) == 0 || len(in.RequirementPaths) > maxPaths {
		return fail("requirementPaths must hold 1 to %d paths", maxPaths)
	}
	paths := make([][]string, 0, len(in.RequirementPaths))
	seenPaths := map[string]int{}
	for i, raw := range in.RequirementPaths {
		if len(raw) == 0 || len(raw) > maxExamsPerPath {
			return fail("requirement path %d must name 1 to %d exams", i+1, maxExamsPerPath)
		}
		path := make([]string, 0, len(raw))
		for _, e := range raw {
			e = strings.ToUpper(strings.TrimSpace(e))
			if !examCodeRE.MatchString(e) {
				return fail("requirement path %d: %q is not an exam code", i+1, e)
			}
			if slices.Contains(path, e) {
				return fail("requirement path %d names %s twice", i+1, e)
			}
			path = append(path, e)
		}
		slices.Sort(path)
		key := strings.Join(path, "+")
		if j, ok := seenPaths[key]; ok {
			return fail("requirement paths %d and %d are the same", j, i+1)
		}
		seenPaths[key] = i + 1
		paths = append(paths, path)
	}
	if len(in.Prerequisites) > maxPrereqs {
		return fail("at most %d prerequisites", maxPrereqs)
	}
	prereqs := []string{}
	for _, p := range in.Prerequisites {
		p = strings.TrimSpace(p)
		if !certCodeRE.MatchString(p) {
			return fail("prerequisite %q is not a certification code", p)
		}
		if p == code {
			return fail("a certification cannot be its own prerequisite")
		}
		if !slices.Contains(prereqs, p) {
			prereqs = append(prereqs, p)
		}
	}
	slices.Sort(prereqs)
	c := Certification{Code: code, Name: name, Level: in.Level, ReleasedOn: in.ReleasedOn,
		RetiredOn: in.RetiredOn, Languages: langs}
	return c, paths, prereqs, nil
}

// PrerequisiteCycle returns the cycle that giving code the prerequisites prereqs would create
// in graph (every certification's prerequisite codes), as the codes along it starting and
// ending with code, or nil when there is none.
func PrerequisiteCycle(code string, prereqs []string, graph map[string][]string) []string {
	next := func(c string) []string {
		if c == code {
			return prereqs
		}
		return graph[c]
	}
	done := map[string]bool{}
	var walk func(c string, path []string) []string
	walk = func(c string, path []string) []string {
		path = append(path, c)
		for _, n := range next(c) {
			if n == code {
				return append(slices.Clone(path), code)
			}
			if done[n] {
				continue
			}
			done[n] = true
			if cyc := walk(n, path); cyc != nil {
				return cyc
			}
		}
		return nil
	}
	return walk(code, nil)
}

func text(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > maxTitleLen || !utf8.ValidString(s) ||
		strings.ContainsFunc(s, unicode.IsControl) {
		return "", apperr.Invalid("%s must be 1 to %d characters, without control characters", field, maxTitleLen)
	}
	return s, nil
}

// languages canonicalizes a list of BCP 47 tags (zh-hans → zh-Hans), keeping the first
// occurrence of each. Codes: BAD_USER_INPUT (empty list, malformed tag).
func languages(in []string) ([]string, error) {
	if len(in) == 0 || len(in) > maxLanguages {
		return nil, apperr.Invalid("languages must list 1 to %d language tags", maxLanguages)
	}
	out := make([]string, 0, len(in))
	for _, l := range in {
		tag, err := language.Parse(strings.TrimSpace(l))
		if err != nil || tag == language.Und {
			return nil, apperr.Invalid("%q is not a language tag such as en, ja or zh-Hans", l)
		}
		if s := tag.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// examRecord and certRecord are the audit details' view of an exam and a certification.
type examRecord struct {
	Title      string     `json:"title"`
	Languages  []string   `json:"languages"`
	RetiredOn  *date.Date `json:"retiredOn"`
	Supersedes *string    `json:"supersedes"`
}

func examRecordOf(e *Exam) *examRecord {
	if e == nil {
		return nil
	}
	return &examRecord{Title: e.Title, Languages: e.Languages, RetiredOn: e.RetiredOn, Supersedes: e.Supersedes}
}

type certRecord struct {
	Name             string     `json:"name"`
	Level            Level      `json:"level"`
	ReleasedOn       date.Date  `json:"releasedOn"`
	RetiredOn        *date.Date `json:"retiredOn"`
	Languages        []string   `json:"languages"`
	RequirementPaths [][]string `json:"requirementPaths"`
	Prerequisites    []string   `json:"prerequisites"`
}

func certRecordFrom(c Certification, paths [][]string, prereqs []string) certRecord {
	if prereqs == nil {
		prereqs = []string{}
	}
	return certRecord{Name: c.Name, Level: c.Level, ReleasedOn: c.ReleasedOn, RetiredOn: c.RetiredOn,
		Languages: c.Languages, RequirementPaths: paths, Prerequisites: prereqs}
}

// certRecordOf is the current state of the certification with code, or nil when it is new.
func certRecordOf(ctx context.Context, tx AdminStore, code string, graph map[string][]string) (*certRecord, error) {
	c, err := tx.CertificationByCode(ctx, code)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	paths, err := tx.PathsByCertIDs(ctx, []uuid.UUID{c.ID})
	if err != nil {
		return nil, err
	}
	prereqs := slices.Clone(graph[code])
	slices.Sort(prereqs)
	r := certRecordFrom(c, paths[0], prereqs)
	return &r, nil
}

// recordChange writes the audit event of a catalog change: the record before (nil when
// created) and after. It concerns no certification profile.
func recordChange[T any](ctx context.Context, tx AdminStore, action string, p *auth.Principal, now time.Time, code string, before, after *T) error {
	ev, err := audit.New(action, p.Identity(), map[string]any{"code": code, "created": before == nil, "before": before, "after": after}, now)
	if err != nil {
		return err
	}
	_, err = tx.InsertAudit(ctx, ev)
	return err
}
