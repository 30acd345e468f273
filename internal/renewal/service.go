package renewal

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
	"github.com/recert/recert/internal/webhook"
)

// Store is the persistence this service needs. Methods that lock rows must run inside InTx.
type Store interface {
	// InTx runs fn in one transaction, retried as a whole on serialization failure or deadlock.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// EmitWebhook writes a webhook event in the transaction (CERTIFICATION_RENEWED).
	webhook.Emitter

	// LockHolding loads an earned certification locked FOR UPDATE, with the owner of its
	// profile and whether that profile is connected (the link row is share-locked so an unlink
	// waits for the transaction). Codes: NOT_FOUND.
	LockHolding(ctx context.Context, earnedID uuid.UUID) (Holding, error)
	// LockHoldingOfAttempt is LockHolding for the earned certification of an attempt.
	// Codes: NOT_FOUND.
	LockHoldingOfAttempt(ctx context.Context, attemptID uuid.UUID) (Holding, error)
	// CertificationByID loads a certification. Codes: NOT_FOUND.
	CertificationByID(ctx context.Context, id uuid.UUID) (catalog.Certification, error)
	// CertificationByCode loads a certification. Codes: NOT_FOUND.
	CertificationByCode(ctx context.Context, code string) (catalog.Certification, error)
	// CurrentAssessment loads the newest version of a certification's assessment, nil if none.
	CurrentAssessment(ctx context.Context, certID uuid.UUID) (*catalog.Assessment, error)
	// AssessmentVersion loads one version. Codes: NOT_FOUND.
	AssessmentVersion(ctx context.Context, versionID uuid.UUID) (catalog.Assessment, error)
	// AttemptsOf lists every attempt of an earned certification, oldest first.
	AttemptsOf(ctx context.Context, earnedID uuid.UUID) ([]Attempt, error)
	// Bank loads the question bank of a version, with choice ids (in bank order).
	Bank(ctx context.Context, versionID uuid.UUID) ([]catalog.Question, error)
	// InsertAttempt stores a new attempt and the questions served to it.
	// Codes: ATTEMPT_IN_PROGRESS (the one-in-progress index).
	InsertAttempt(ctx context.Context, a Attempt, served []Served) (Attempt, error)
	// LockAttempt loads an attempt locked FOR UPDATE. Codes: NOT_FOUND.
	LockAttempt(ctx context.Context, id uuid.UUID) (Attempt, error)
	// AnswerKey loads the key of every question served to an attempt, in served order.
	AnswerKey(ctx context.Context, attemptID uuid.UUID) ([]Key, error)
	// FinishAttempt records a submission: time, score, result and the selected choices.
	// Codes: ATTEMPT_ALREADY_SUBMITTED when it was already submitted.
	FinishAttempt(ctx context.Context, a Attempt, selected map[uuid.UUID][]uuid.UUID) error
	// Extend sets an earned certification's expiry.
	Extend(ctx context.Context, earnedID uuid.UUID, expiresOn date.Date) error
	// InsertRenewal records a renewal. Codes: RENEWAL_WINDOW_NOT_OPEN (a second renewal of
	// the same cycle), ATTEMPT_ALREADY_SUBMITTED (a second renewal from one attempt).
	InsertRenewal(ctx context.Context, r Renewal) (Renewal, error)

	// StatusPages reads, per profile in key order, one page of earned certifications with what
	// their renewal status needs (PageFacts), in one statement. Service.Pages checks the reader.
	StatusPages(ctx context.Context, profileIDs []uuid.UUID, q transcript.EarnedQuery) ([]PageFacts, error)
	// ProfileStatusPage is StatusPages for the profile an MCID names (the end of its merge
	// chain), read with the profile, its link and the account of the caller's identity (issuer,
	// subject) in the same statement.
	ProfileStatusPage(ctx context.Context, issuer, subject string, mcid int64, q transcript.EarnedQuery) (ProfilePageFacts, error)

	// Batch reads in key order, behind the readers of read.go (which check the reader).
	AttemptsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Attempt, []error)
	AttemptsByEarnedIDs(ctx context.Context, ids []uuid.UUID) ([][]Attempt, error)
	RenewalsByEarnedIDs(ctx context.Context, ids []uuid.UUID) ([][]Renewal, error)
	ServedByAttemptIDs(ctx context.Context, ids []uuid.UUID) ([][]ServedQuestion, error)
}

// Service implements the renewal rules.
type Service struct {
	store Store
	clock clock.Clock
	rand  Rand
}

// NewService returns a Service on store. Questions are sampled with a random source seeded by
// the runtime; tests may replace it with SetRand.
func NewService(store Store, clk clock.Clock) *Service {
	return &Service{store: store, clock: clk, rand: systemRand{}}
}

// SetRand replaces the randomness used to sample and shuffle questions (tests use Seeded).
func (s *Service) SetRand(r Rand) { s.rand = r }

// Status is RenewalStatus now for f (see StatusOf).
func (s *Service) Status(f Facts) Status { return StatusOf(f, s.clock.Now()) }

// owner checks that p owns the profile holding h. Someone else's certification does not
// exist for a learner (NOT_FOUND, no hint); support may see it but never act as the learner
// (FORBIDDEN).
func owner(p *auth.Principal, h Holding, what string) error {
	switch {
	case p == nil:
		return apperr.Unauth("sign in to renew certifications")
	case p.AccountID != uuid.Nil && p.AccountID == h.OwnerAccountID:
		return nil
	case p.HasRole(auth.RoleSupport) || p.HasRole(auth.RoleAdmin):
		return apperr.Deny("only the certification's holder may " + what)
	default:
		return apperr.Missing("earned certification")
	}
}

// Start begins a renewal assessment attempt of an earned certification in language: in one
// transaction it locks the earned certification, applies Check, samples the current
// version's questions and stores the attempt.
// Codes: UNAUTHENTICATED, NOT_FOUND (missing or someone else's), FORBIDDEN (support),
// NOT_RENEWABLE, RENEWAL_NOT_AVAILABLE_YET, CERTIFICATION_EXPIRED, RENEWAL_WINDOW_NOT_OPEN,
// PROFILE_NOT_LINKED, LANGUAGE_NOT_AVAILABLE, ATTEMPT_IN_PROGRESS, RETAKE_WAIT.
func (s *Service) Start(ctx context.Context, p *auth.Principal, earnedID uuid.UUID, language string) (Attempt, error) {
	now := s.clock.Now()
	var out Attempt
	err := s.store.InTx(ctx, func(tx Store) error {
		h, err := tx.LockHolding(ctx, earnedID)
		if err != nil {
			return notFoundAs(err, "earned certification")
		}
		if err := owner(p, h, "start its renewal assessment"); err != nil {
			return err
		}
		f, err := facts(ctx, tx, h, true)
		if err != nil {
			return err
		}
		if err := Check(f, &language, now); err != nil {
			return err
		}
		bank, err := tx.Bank(ctx, f.Assessment.ID)
		if err != nil {
			return fmt.Errorf("load question bank: %w", err)
		}
		served := Serve(bank, f.Assessment.QuestionCount, s.rand)
		if len(served) == 0 {
			return fmt.Errorf("assessment version %s has an empty question bank", f.Assessment.ID)
		}
		out, err = tx.InsertAttempt(ctx, Attempt{
			EarnedID: earnedID, VersionID: f.Assessment.ID, Version: f.Assessment.Version,
			Language:       OfferedLanguage(f.Assessment.Languages, language),
			CycleExpiresOn: *h.Earned.ExpiresOn, StartedAt: now,
		}, served)
		return err
	})
	if apperr.CodeOf(err) == apperr.AttemptInProgress {
		err = s.withInProgressID(ctx, earnedID, err)
	}
	return out, err
}

// withInProgressID attaches the id of the attempt in progress to an ATTEMPT_IN_PROGRESS that
// came from the database's one-in-progress index rather than from Check.
func (s *Service) withInProgressID(ctx context.Context, earnedID uuid.UUID, err error) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Extensions["attemptId"] != nil {
		return err
	}
	list, lerr := s.store.AttemptsOf(ctx, earnedID)
	if lerr != nil {
		return err
	}
	if a := inProgress(list); a != nil {
		return ae.With("attemptId", a.ID)
	}
	return err
}

// facts gathers what Check and Renewable decide on; the attempts only when withAttempts.
func facts(ctx context.Context, tx Store, h Holding, withAttempts bool) (Facts, error) {
	cert, err := tx.CertificationByID(ctx, h.Earned.CertificationID)
	if err != nil {
		return Facts{}, fmt.Errorf("load certification: %w", err)
	}
	asmt, err := tx.CurrentAssessment(ctx, cert.ID)
	if err != nil {
		return Facts{}, fmt.Errorf("load assessment: %w", err)
	}
	var attempts []Attempt
	if withAttempts {
		if attempts, err = tx.AttemptsOf(ctx, h.Earned.ID); err != nil {
			return Facts{}, fmt.Errorf("load attempts: %w", err)
		}
	}
	return Facts{Earned: h.Earned, Certification: cert, Assessment: asmt, Linked: h.Linked, Attempts: attempts}, nil
}

// Submission is the outcome of Submit.
type Submission struct {
	Attempt Attempt
	Earned  transcript.Earned
	Renewal *Renewal // set when the attempt passed
}

// Submit scores an attempt on the server and, when it passes, extends the certification by
// one year from its current expiry and records the renewal, all in one transaction. The
// earned certification, its profile's connection (share lock: an unlink waits for the
// submission, or the submission sees the unlink) and then the attempt are locked, so
// concurrent submissions of one attempt score once and extend once.
//
// Everything Start checked that can change while the attempt is in progress is checked again
// with Renewable (one copy of the rules): the connection, the expiry, supersession by a merge
// and the catalog. A merge moves the attempt with its earned certification: the profile that
// holds the record now is the one whose owner may submit and whose connection counts. When
// the submission is refused nothing is written: the attempt stays in progress, and may be
// submitted once the cause is gone (connected again) while the certification has not expired.
// Codes: UNAUTHENTICATED, NOT_FOUND (missing, or the record now belongs to someone else),
// FORBIDDEN (support), ATTEMPT_ALREADY_SUBMITTED, then Renewable's: NOT_RENEWABLE
// (superseded meanwhile, or no longer renewable in the catalog), RENEWAL_NOT_AVAILABLE_YET,
// CERTIFICATION_EXPIRED (at or after the expiry date), RENEWAL_WINDOW_NOT_OPEN,
// PROFILE_NOT_LINKED; BAD_USER_INPUT (answers naming questions or choices not served, or twice).
func (s *Service) Submit(ctx context.Context, p *auth.Principal, attemptID uuid.UUID, answers []Answer) (Submission, error) {
	now := s.clock.Now()
	var out Submission
	err := s.store.InTx(ctx, func(tx Store) error {
		h, err := tx.LockHoldingOfAttempt(ctx, attemptID)
		if err != nil {
			return notFoundAs(err, "attempt")
		}
		if err := owner(p, h, "submit its renewal assessment"); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return apperr.Missing("attempt")
			}
			return err
		}
		a, err := tx.LockAttempt(ctx, attemptID)
		if err != nil {
			return notFoundAs(err, "attempt")
		}
		if !a.InProgress() {
			return apperr.E(apperr.AttemptAlreadySubmitted, "this attempt has already been submitted")
		}
		// What Start checked may have changed since (disconnected, expired, superseded by a
		// merge, certification changed in the catalog): the same rules again, under the same
		// locks. A refusal rolls everything back: the attempt stays in progress.
		f, err := facts(ctx, tx, h, false)
		if err != nil {
			return err
		}
		if err := Renewable(f, now); err != nil {
			return err
		}
		e := h.Earned
		keys, err := tx.AnswerKey(ctx, attemptID)
		if err != nil {
			return fmt.Errorf("load answer key: %w", err)
		}
		ver, err := tx.AssessmentVersion(ctx, a.VersionID)
		if err != nil {
			return fmt.Errorf("load assessment version: %w", err)
		}
		res, err := Score(keys, answers, ver.PassingScore)
		if err != nil {
			return err
		}
		a.SubmittedAt, a.Score, a.Passed = &now, &res.Score, &res.Passed
		if err := tx.FinishAttempt(ctx, a, res.Selected); err != nil {
			return err
		}
		out = Submission{Attempt: a, Earned: e}
		if !res.Passed {
			return nil
		}
		next := Extend(*e.ExpiresOn)
		r, err := tx.InsertRenewal(ctx, Renewal{EarnedID: e.ID, AttemptID: a.ID, RenewedAt: now,
			PreviousExpiresOn: *e.ExpiresOn, NewExpiresOn: next})
		if err != nil {
			return err
		}
		if err := tx.Extend(ctx, e.ID, next); err != nil {
			return fmt.Errorf("extend expiry: %w", err)
		}
		if err := tx.EmitWebhook(ctx, webhook.Certification(webhook.CertificationRenewed, e.ID, now)); err != nil {
			return err
		}
		out.Earned.ExpiresOn, out.Renewal = &next, &r
		return nil
	})
	return out, err
}

func notFoundAs(err error, what string) error {
	if apperr.CodeOf(err) == apperr.NotFound {
		return apperr.Missing(what)
	}
	return err
}
