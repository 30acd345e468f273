package transcript

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/idem"
	"github.com/recert/recert/internal/webhook"
)

// Store is the persistence this service needs.
type Store interface {
	// InTx runs fn in one transaction (retried on serialization failure or deadlock).
	InTx(ctx context.Context, fn func(tx Store) error) error
	// EmitWebhook writes a webhook event in the transaction (CERTIFICATION_EARNED).
	webhook.Emitter
	// ClaimKey and StoreResponse keep CreateShare's idempotency keys.
	idem.Store

	// ResultByExternalID loads the result recorded under a delivery id. Codes: NOT_FOUND.
	ResultByExternalID(ctx context.Context, externalID string) (ExamResult, error)
	// LockProfileByMCID locks (FOR UPDATE) the current profile of mcid, following merges to
	// the survivor. Codes: NOT_FOUND.
	LockProfileByMCID(ctx context.Context, mcid int64) (certprofile.Profile, error)
	// ExamByCode loads an exam of the catalog. Codes: NOT_FOUND.
	ExamByCode(ctx context.Context, code string) (catalog.Exam, error)
	// InsertResult stores r unless its external id is already recorded, reporting whether it
	// was stored.
	InsertResult(ctx context.Context, r ExamResult) (ExamResult, bool, error)
	// RulesForExam loads the rules of the certifications whose paths use exam and of every
	// certification depending on those through prerequisites, transitively.
	RulesForExam(ctx context.Context, exam string) ([]Rule, error)
	// PassesOf lists every passed exam of a profile.
	PassesOf(ctx context.Context, profileID uuid.UUID) ([]Pass, error)
	// EarnedOf lists every earned certification of a profile.
	EarnedOf(ctx context.Context, profileID uuid.UUID) ([]Earned, error)
	// InsertEarned stores records earned by the result resultID.
	InsertEarned(ctx context.Context, list []Earned, resultID uuid.UUID) ([]Earned, error)
	// EarnedByResult lists the records the result earned, in the order they were stored.
	EarnedByResult(ctx context.Context, resultID uuid.UUID) ([]Earned, error)

	// EarnedPages loads, per profile in key order, up to q.First+1 earned certifications
	// matching q, newest first, with their certifications.
	EarnedPages(ctx context.Context, profileIDs []uuid.UUID, q EarnedQuery) ([]EarnedPage, error)
	// CountEarned counts, per profile in key order, the earned certifications matching f.
	CountEarned(ctx context.Context, profileIDs []uuid.UUID, f StatusFilter) ([]int, error)
	// ResultPages loads, per profile in key order, up to q.First+1 exam results after the
	// cursor, newest first, with their exams.
	ResultPages(ctx context.Context, profileIDs []uuid.UUID, q ResultQuery) ([]ResultPage, error)
	// CountResults counts, per profile in key order, the exam results.
	CountResults(ctx context.Context, profileIDs []uuid.UUID) ([]int, error)
	// EarnedByIDs and ResultsByIDs load records in key order, NOT_FOUND for missing keys;
	// EarnedByIDs gives each with the account that holds it (its profile's owner).
	EarnedByIDs(ctx context.Context, ids []uuid.UUID) ([]*HeldEarned, []error)
	ResultsByIDs(ctx context.Context, ids []uuid.UUID) ([]*ExamResult, []error)

	// InsertShare stores a new share.
	InsertShare(ctx context.Context, s Share) (Share, error)
	// ShareByID loads a share. Codes: NOT_FOUND.
	ShareByID(ctx context.Context, id uuid.UUID) (Share, error)
	// RevokeShare sets revoked_at once; revoking again keeps the first instant.
	RevokeShare(ctx context.Context, id uuid.UUID, at time.Time) (Share, error)
	// SharesByProfileIDs lists, per profile in key order, at most limit shares: the live ones
	// (not revoked, not expired at now) first, then the others, each newest first.
	SharesByProfileIDs(ctx context.Context, ids []uuid.UUID, now time.Time, limit int) ([][]Share, error)
	// CountLiveShares counts a profile's shares that are not revoked and not expired at now.
	CountLiveShares(ctx context.Context, profileID uuid.UUID, now time.Time) (int, error)
	// LockProfile locks one certification profile row (FOR UPDATE). Codes: NOT_FOUND.
	LockProfile(ctx context.Context, id uuid.UUID) (certprofile.Profile, error)
	// ViewShare counts one view of a live share (not revoked, not expired at now) in one
	// atomic statement and returns the profile it shares. Codes: NOT_FOUND.
	ViewShare(ctx context.Context, code string, now time.Time) (uuid.UUID, error)
	// PublicOf loads what the public transcript of a profile shows, following merges to the
	// survivor: its name, MCID, the latest MaxPublicItems unsuperseded certifications and the
	// latest MaxPublicItems passed exams.
	PublicOf(ctx context.Context, profileID uuid.UUID) (Public, error)

	// ProfilesByIDs loads certification profiles in key order.
	ProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*certprofile.Profile, []error)
}

// Service implements the transcript rules: recording exam results and earning, the lists of a
// profile's history, and transcript shares.
type Service struct {
	store Store
	clock clock.Clock
	// MaxLiveShares caps the live share codes of a profile (0 means DefaultMaxLiveShares).
	MaxLiveShares int
	// PublicReads, when set, loads public transcripts (a read replica): the share itself is
	// still checked and counted on the primary, so a revoked code stops at once, and a profile
	// the replica does not have yet is read from the primary (docs/operations.md "Read replicas").
	PublicReads PublicReader
}

// PublicReader loads public transcripts (Store.PublicOf).
type PublicReader interface {
	PublicOf(ctx context.Context, profileID uuid.UUID) (Public, error)
}

// MaxPublicItems is the most certifications, and the most exam results, a public transcript
// lists (the latest ones): the page is anonymous, so what one view costs must stay bounded.
const MaxPublicItems = 100

// DefaultMaxLiveShares is the default of MAX_LIVE_SHARES_PER_PROFILE: one code per employer
// applied to at a time is plenty, and revoked or expired codes free their slot.
const DefaultMaxLiveShares = 20

// MaxLive returns the cap on a profile's live share codes.
func (s *Service) MaxLive() int {
	if s.MaxLiveShares > 0 {
		return s.MaxLiveShares
	}
	return DefaultMaxLiveShares
}

// ListedShares is the most shares transcriptShares lists for one profile: twice the live cap,
// so every live code of a profile within the cap shows, with as many of the latest revoked
// or expired ones after them. Only a merge can leave a survivor with more live codes than
// that (merges lose nothing); its oldest live codes then keep working but are not listed.
func ListedShares(maxLive int) int { return 2 * maxLive }

// NewService returns a Service on store.
func NewService(store Store, clk clock.Clock) *Service { return &Service{store: store, clock: clk} }

// Today is the calendar day of the service's clock, for statuses.
func (s *Service) Today() date.Date { return date.Of(s.clock.Now()) }

// NewResult is an exam result as exam delivery reports it.
type NewResult struct {
	MCID       string
	ExamCode   string
	Passed     bool
	Score      *int
	TakenAt    time.Time
	Language   *string
	ExternalID string
}

// Recorded is the outcome of RecordResult: the result and the certifications it earned.
type Recorded struct {
	Result ExamResult
	Earned []Earned
	// Replay is true when the external id was already recorded: Result and Earned are then
	// those of the first request, and nothing changed.
	Replay bool
}

// maxExternalID bounds the delivery service's id.
const maxExternalID = 200

// maxScore is the highest exam score (exams are scored out of 1000).
const maxScore = 1000

// RecordResult records an exam result reported by exam delivery and earns what it completes
// (see Earn). It is idempotent on ExternalID: when that id is already recorded, the first
// result and the certifications it earned are returned and nothing changes, whatever the
// other fields of the replay say (chosen: a delivery retry must never double-count, and a
// correction is not a replay; it needs a new external id). The input is checked before the
// replay lookup, so a malformed replay is refused like any malformed request.
//
// A merged MCID records on its survivor. The profile row is locked for the transaction, so
// results for one profile are evaluated one after the other.
//
// Codes: UNAUTHENTICATED (no token), FORBIDDEN (neither exam-delivery nor admin),
// BAD_USER_INPUT (empty or over-long externalId, malformed MCID, score outside 0..1000, bad
// language tag, takenAt after now, unknown exam code, takenAt after the exam's retirement date
// (CheckExamTaken; a replay of an earlier result is still answered), a language the exam is
// not offered in (ExamLanguage; likewise), unknown MCID: chosen BAD_USER_INPUT like
// an unknown exam code, since both are references in the input that do not resolve; the
// extension `field` names the input field).
func (s *Service) RecordResult(ctx context.Context, p *auth.Principal, in NewResult) (Recorded, error) {
	if p == nil {
		return Recorded{}, apperr.Unauth("sign in to record exam results")
	}
	if !p.HasRole(auth.RoleExamDelivery) && !p.HasRole(auth.RoleAdmin) {
		return Recorded{}, apperr.Deny("only exam delivery records exam results")
	}
	now := s.clock.Now()
	res, mcid, err := validateResult(in, now)
	if err != nil {
		return Recorded{}, err
	}
	var out Recorded
	err = s.store.InTx(ctx, func(tx Store) error {
		out = Recorded{}
		first, err := tx.ResultByExternalID(ctx, res.ExternalID)
		if err == nil {
			out, err = replay(ctx, tx, first)
			return err
		}
		if apperr.CodeOf(err) != apperr.NotFound {
			return err
		}
		exam, err := tx.ExamByCode(ctx, res.ExamCode)
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Invalid("unknown exam code %q", res.ExamCode).With("field", "examCode")
		}
		if err != nil {
			return err
		}
		if err := CheckExamTaken(exam, res.TakenAt); err != nil {
			return err
		}
		if res.Language, err = ExamLanguage(exam, res.Language); err != nil {
			return err
		}
		prof, err := tx.LockProfileByMCID(ctx, mcid)
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Invalid("no certification profile has MCID %d", mcid).With("field", "mcid")
		}
		if err != nil {
			return err
		}
		res.ProfileID = prof.ID
		stored, inserted, err := tx.InsertResult(ctx, res)
		if err != nil {
			return err
		}
		if !inserted {
			// A concurrent request with the same external id committed first.
			first, err := tx.ResultByExternalID(ctx, res.ExternalID)
			if err != nil {
				return err
			}
			out, err = replay(ctx, tx, first)
			return err
		}
		out.Result = stored
		if !stored.Passed {
			return nil
		}
		earned, err := s.earn(ctx, tx, stored)
		out.Earned = earned
		if err != nil {
			return err
		}
		for _, e := range earned {
			if err := tx.EmitWebhook(ctx, webhook.Certification(webhook.CertificationEarned, e.ID, now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Recorded{}, fmt.Errorf("record exam result: %w", err)
	}
	return out, nil
}

func replay(ctx context.Context, tx Store, first ExamResult) (Recorded, error) {
	earned, err := tx.EarnedByResult(ctx, first.ID)
	if err != nil {
		return Recorded{}, err
	}
	return Recorded{Result: first, Earned: earned, Replay: true}, nil
}

// earn applies Earn to a stored pass and stores what it earns.
func (s *Service) earn(ctx context.Context, tx Store, r ExamResult) ([]Earned, error) {
	rules, err := tx.RulesForExam(ctx, r.ExamCode)
	if err != nil || len(rules) == 0 {
		return nil, err
	}
	passes, err := tx.PassesOf(ctx, r.ProfileID)
	if err != nil {
		return nil, err
	}
	records, err := tx.EarnedOf(ctx, r.ProfileID)
	if err != nil {
		return nil, err
	}
	newly := Earn(Pass{Exam: r.ExamCode, Day: date.Of(r.TakenAt)}, rules, passes, records)
	if len(newly) == 0 {
		return nil, nil
	}
	code := map[uuid.UUID]string{}
	for _, rule := range rules {
		code[rule.Certification.ID] = rule.Certification.Code
	}
	// The order a replay reads them back in (EarnedByResult): by day, then certification code.
	sort.SliceStable(newly, func(i, j int) bool {
		if c := newly[i].EarnedOn.Compare(newly[j].EarnedOn); c != 0 {
			return c < 0
		}
		return code[newly[i].CertificationID] < code[newly[j].CertificationID]
	})
	for i := range newly {
		newly[i].ProfileID = r.ProfileID
		newly[i].CreatedAt = r.RecordedAt
	}
	return tx.InsertEarned(ctx, newly, r.ID)
}

// validateResult checks the input's form (no database) and normalises it.
func validateResult(in NewResult, now time.Time) (ExamResult, int64, error) {
	ext := strings.TrimSpace(in.ExternalID)
	if ext == "" || utf8.RuneCountInString(ext) > maxExternalID {
		return ExamResult{}, 0, apperr.Invalid("externalId must be 1 to %d characters", maxExternalID).With("field", "externalId")
	}
	mcid, err := certprofile.ParseMCID(in.MCID)
	if err != nil {
		return ExamResult{}, 0, apperr.Invalid("mcid must be a number").With("field", "mcid")
	}
	code := strings.ToUpper(strings.TrimSpace(in.ExamCode))
	if code == "" {
		return ExamResult{}, 0, apperr.Invalid("examCode is required").With("field", "examCode")
	}
	if in.Score != nil && (*in.Score < 0 || *in.Score > maxScore) {
		return ExamResult{}, 0, apperr.Invalid("score must be between 0 and %d", maxScore).With("field", "score")
	}
	var lang *string
	if in.Language != nil && strings.TrimSpace(*in.Language) != "" {
		tag, err := language.Parse(strings.TrimSpace(*in.Language))
		if err != nil {
			return ExamResult{}, 0, apperr.Invalid("language must be a language tag such as en or ja").With("field", "language")
		}
		l := tag.String()
		lang = &l
	}
	taken := in.TakenAt.UTC()
	if taken.IsZero() {
		return ExamResult{}, 0, apperr.Invalid("takenAt is required").With("field", "takenAt")
	}
	if taken.After(now) {
		return ExamResult{}, 0, apperr.Invalid("takenAt is in the future").With("field", "takenAt")
	}
	return ExamResult{ExamCode: code, Passed: in.Passed, Score: in.Score, TakenAt: taken, Language: lang,
		ExternalID: ext, RecordedAt: now}, mcid, nil
}

// CanReadHistory reports whether p may read the earned certifications and exam results of
// prof: its owner or support (certprofile.CanView). Codes: UNAUTHENTICATED, FORBIDDEN.
func CanReadHistory(p *auth.Principal, prof *certprofile.Profile) error {
	if p == nil {
		return apperr.Unauth("sign in to see certification history")
	}
	if !certprofile.CanView(p, prof) {
		return apperr.Deny("only the profile's owner or support may see its certification history")
	}
	return nil
}

// EarnedQuery is one page of earned certifications: newest earnedOn first, then id
// descending; After* is the keyset position of the last row of the previous page.
type EarnedQuery struct {
	First    int
	HasAfter bool
	AfterOn  date.Date
	AfterID  uuid.UUID
	Filter   StatusFilter
	// WithTotal asks for EarnedPage.Total in the same statement (the connection's totalCount).
	WithTotal bool
}

// ResultQuery is one page of exam results: newest takenAt first, then id descending.
type ResultQuery struct {
	First    int
	HasAfter bool
	AfterAt  time.Time
	AfterID  uuid.UUID
}

// EarnedPage is one profile's page of earned certifications and the catalog certifications
// they refer to, read in the same statement: listing costs no lookup per item.
type EarnedPage struct {
	Earned         []Earned
	Certifications []catalog.Certification
	// Assessments holds each row's certification's current renewal assessment (nil: none),
	// read in the same statement.
	Assessments []*catalog.Assessment
	// Total counts every certification of the profile matching the filter (whatever the
	// cursor); set with EarnedQuery.WithTotal when the page holds at least one row.
	Total int
}

// ResultPage is one profile's page of exam results and the catalog exams they refer to, read
// in the same statement.
type ResultPage struct {
	Results []ExamResult
	Exams   []catalog.Exam
}

// EarnedPages loads one page of earned certifications for each profile (at most First+1
// rows, so the caller can tell whether more follow). Callers check CanReadHistory first.
func (s *Service) EarnedPages(ctx context.Context, profileIDs []uuid.UUID, q EarnedQuery) ([]EarnedPage, error) {
	return s.store.EarnedPages(ctx, profileIDs, q)
}

// CountEarned counts each profile's earned certifications matching f.
func (s *Service) CountEarned(ctx context.Context, profileIDs []uuid.UUID, f StatusFilter) ([]int, error) {
	return s.store.CountEarned(ctx, profileIDs, f)
}

// ResultPages loads one page of exam results for each profile (at most First+1 rows).
func (s *Service) ResultPages(ctx context.Context, profileIDs []uuid.UUID, q ResultQuery) ([]ResultPage, error) {
	return s.store.ResultPages(ctx, profileIDs, q)
}

// CountResults counts each profile's exam results.
func (s *Service) CountResults(ctx context.Context, profileIDs []uuid.UUID) ([]int, error) {
	return s.store.CountResults(ctx, profileIDs)
}

// HeldEarned is an earned certification with the account holding it (its profile's owner):
// what the read rule looks at.
type HeldEarned struct {
	Earned
	Owner uuid.UUID
}

// EarnedByIDs loads earned certifications in key order for p (the batch reader behind the
// earned certification loader): NOT_FOUND for missing ones and for those whose history p may
// not read (CanReadHistory: the holder or support).
func (s *Service) EarnedByIDs(ctx context.Context, p *auth.Principal, ids []uuid.UUID) ([]*Earned, []error) {
	held, errs := s.store.EarnedByIDs(ctx, ids)
	if errs == nil {
		errs = make([]error, len(ids))
	}
	out := make([]*Earned, len(ids))
	for i, h := range held {
		switch {
		case errs[i] != nil:
		case h == nil || CanReadHistory(p, &certprofile.Profile{AccountID: h.Owner}) != nil:
			errs[i] = apperr.Missing("earned certification")
		default:
			out[i] = &h.Earned
		}
	}
	return out, errs
}

// ResultsByIDs loads exam results in key order (for loaders; no permission check).
func (s *Service) ResultsByIDs(ctx context.Context, ids []uuid.UUID) ([]*ExamResult, []error) {
	return s.store.ResultsByIDs(ctx, ids)
}

// SharesByProfileIDs lists at most ListedShares shares per profile, live ones first (for
// loaders; callers check ownership).
func (s *Service) SharesByProfileIDs(ctx context.Context, ids []uuid.UUID) ([][]Share, error) {
	return s.store.SharesByProfileIDs(ctx, ids, s.clock.Now(), ListedShares(s.MaxLive()))
}

// ExamLanguage checks that a result's language (nil when unknown) is one the exam is offered
// in (issue 13 part 1) and returns it in the exam's spelling of the tag.
// Codes: BAD_USER_INPUT (field language, extensions.availableLanguages).
func ExamLanguage(exam catalog.Exam, lang *string) (*string, error) {
	if lang == nil {
		return nil, nil
	}
	i := slices.IndexFunc(exam.Languages, func(l string) bool { return strings.EqualFold(l, *lang) })
	if i < 0 {
		return nil, apperr.Invalid("exam %s is not offered in %s", exam.Code, *lang).
			With("field", "language").With("availableLanguages", slices.Clone(exam.Languages))
	}
	return &exam.Languages[i], nil
}
