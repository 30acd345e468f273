package merge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/idem"
	"github.com/recert/recert/internal/transcript"
	"github.com/recert/recert/internal/webhook"
)

// Store is the persistence this service needs. Methods that lock do so FOR UPDATE and must
// run inside InTx.
type Store interface {
	// InTx runs fn in one transaction, retried on serialization failures and deadlocks.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// EmitWebhook writes a webhook event in the transaction (PROFILE_MERGED).
	webhook.Emitter
	// Profiles loads profiles without locking; missing ids are absent from the map.
	Profiles(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]certprofile.Profile, error)
	// LockProfiles locks the profiles FOR UPDATE one at a time in ascending id order (the
	// one global order that keeps two merges of the same pair from deadlocking) and returns
	// them as they are once locked; missing ids are absent from the map.
	LockProfiles(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]certprofile.Profile, error)
	// Links loads the Learn profile connections of the profiles, keyed by certification
	// profile id, locking them when lock is set.
	Links(ctx context.Context, profileIDs []uuid.UUID, lock bool) (map[uuid.UUID]certprofile.Link, error)
	// Earned loads every earned certification of the profiles (history included), locking
	// them in id order when lock is set.
	Earned(ctx context.Context, profileIDs []uuid.UUID, lock bool) ([]transcript.Earned, error)
	// AttemptsInProgress lists the unsubmitted renewal attempts of the profiles.
	AttemptsInProgress(ctx context.Context, profileIDs []uuid.UUID) ([]Attempt, error)
	// CountMoving counts what a merge of duplicateID would move.
	CountMoving(ctx context.Context, duplicateID uuid.UUID) (Counts, error)
	// ClaimKey and StoreResponse keep the merge's idempotency keys (scope KeyScope, shared
	// by all support agents).
	idem.Store
	// MoveRows moves every row of the duplicate that hangs off a profile to the survivor:
	// earned certifications (their attempts, renewals and notifications follow), exam
	// results, transcript shares; adds the duplicate's email and alternates to the survivor's
	// alternates; readdresses the pending notifications of the moved certifications.
	MoveRows(ctx context.Context, survivor, duplicate certprofile.Profile, now time.Time) (Moved, error)
	// Supersede marks each loser SUPERSEDED by its winner at now.
	Supersede(ctx context.Context, s []Supersession, now time.Time) error
	// ApplyLink removes plan.Remove and plan.Drop and moves plan.Move to survivorID.
	ApplyLink(ctx context.Context, plan LinkPlan, survivorID uuid.UUID) error
	// MarkMerged sets the duplicate MERGED into survivorID at now and returns it.
	MarkMerged(ctx context.Context, duplicateID, survivorID uuid.UUID, now time.Time) (certprofile.Profile, error)
	// InsertAudit stores ev and links it to those of its profiles that exist.
	audit.Store
	// InsertMerge records the merge; a second merge of one duplicate is PROFILE_ALREADY_MERGED.
	InsertMerge(ctx context.Context, survivorID, duplicateID, eventID uuid.UUID, now time.Time) error
	// AuditEventsByIDs loads audit events in key order (for dataloaders).
	AuditEventsByIDs(ctx context.Context, ids []uuid.UUID) ([]*AuditEvent, []error)
	// AuditEventsOf lists, newest first, the events of a profile and of every profile merged
	// into it (directly or down a chain), from the page's keyset position.
	AuditEventsOf(ctx context.Context, profileID uuid.UUID, page Page) ([]AuditEvent, error)
	// CountAuditEventsOf counts what AuditEventsOf lists.
	CountAuditEventsOf(ctx context.Context, profileID uuid.UUID) (int, error)
	// DeleteExpiredKeys deletes the idempotency keys that expired at or before now.
	DeleteExpiredKeys(ctx context.Context, now time.Time) (int64, error)
}

// Counts is what a merge would move.
type Counts struct {
	Earned      int
	ExamResults int
	Attempts    int
}

// Service implements the merge rules.
type Service struct {
	store Store
	clock clock.Clock
}

// NewService returns a Service on store.
func NewService(store Store, clk clock.Clock) *Service { return &Service{store: store, clock: clk} }

// CanReadAudit reports whether p may read audit events and merge profiles: support only.
func CanReadAudit(p *auth.Principal) bool { return p.HasRole(auth.RoleSupport) }

// authorize lets support through. Codes: UNAUTHENTICATED, FORBIDDEN.
func authorize(p *auth.Principal, what string) error {
	if p == nil {
		return apperr.Unauth("sign in as support to " + what)
	}
	if !CanReadAudit(p) {
		return apperr.Deny("only support may " + what)
	}
	return nil
}

// PreviewMerge computes what merging duplicateID into survivorID would do, changing nothing:
// what moves, which earned certifications would become SUPERSEDED, and the conflicts.
// Codes: UNAUTHENTICATED, FORBIDDEN (not support), MERGE_SAME_PROFILE, NOT_FOUND,
// PROFILE_ALREADY_MERGED.
func (s *Service) PreviewMerge(ctx context.Context, p *auth.Principal, survivorID, duplicateID uuid.UUID) (Preview, error) {
	if err := authorize(p, "preview merges"); err != nil {
		return Preview{}, err
	}
	if survivorID == duplicateID {
		return Preview{}, apperr.E(apperr.MergeSameProfile, "the survivor and the duplicate are the same profile")
	}
	var out Preview
	err := s.store.InTx(ctx, func(tx Store) error {
		ids := []uuid.UUID{survivorID, duplicateID}
		profs, err := tx.Profiles(ctx, ids)
		if err != nil {
			return fmt.Errorf("load profiles: %w", err)
		}
		surv, dup, err := sides(profs, survivorID, duplicateID)
		if err != nil {
			return err
		}
		if err := checkSides(surv, dup); err != nil {
			return err
		}
		links, err := tx.Links(ctx, ids, false)
		if err != nil {
			return fmt.Errorf("load links: %w", err)
		}
		earned, err := tx.Earned(ctx, ids, false)
		if err != nil {
			return fmt.Errorf("load earned certifications: %w", err)
		}
		counts, err := tx.CountMoving(ctx, duplicateID)
		if err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
		inProgress, err := tx.AttemptsInProgress(ctx, ids)
		if err != nil {
			return fmt.Errorf("load attempts: %w", err)
		}
		sup := Supersessions(survivorID, earned)
		out = Preview{
			Survivor: surv, Duplicate: dup,
			MovingCertifications: counts.Earned, MovingExamResults: counts.ExamResults, MovingAttempts: counts.Attempts,
			Superseded: make([]transcript.Earned, 0, len(sup)),
			Conflicts: Conflicts(survivorID, linkOf(links, survivorID), linkOf(links, duplicateID), surv.AccountID == dup.AccountID,
				inProgress, sup),
		}
		for _, x := range sup {
			out.Superseded = append(out.Superseded, x.Loser)
		}
		return nil
	})
	return out, err
}

// Merge merges the duplicate into the survivor in one transaction (docs/domain.md "Merging"):
// everything of the duplicate moves, nothing is deleted but a Learn profile connection the
// request chose to give up or one that cannot move because its Learn profile belongs to
// another account than the survivor (both kept in the audit event), the same certification
// held on both sides keeps the later expiry current, the duplicate becomes MERGED into the
// survivor, and an audit event and a merges row are written. Both profiles are locked in
// ascending id order and re-checked under the lock, so racing merges never deadlock or form a
// cycle.
//
// The idempotency key is claimed in the same transaction: the same key with the same request
// by the same actor returns the stored response (even after the profiles changed, and to
// concurrent requests, which wait for the first); with a different request, or from another
// actor, it is IDEMPOTENCY_KEY_REUSED. Keys are kept for KeyRetention. A refused request
// stores nothing under its key, so it can be retried once the cause is fixed. Every refusal
// is itself audited (ActionMergeRefused), in its own transaction.
//
// Codes: UNAUTHENTICATED, FORBIDDEN (not support), BAD_USER_INPUT (blank reason, empty key),
// MERGE_SAME_PROFILE, NOT_FOUND, PROFILE_ALREADY_MERGED, MERGE_LINK_CONFLICT, ACCOUNT_MISMATCH
// (keeping the duplicate's connection across accounts), IDEMPOTENCY_KEY_REUSED (also when
// another actor used the key first).
func (s *Service) Merge(ctx context.Context, p *auth.Principal, in Request) (Result, error) {
	if err := authorize(p, "merge certification profiles"); err != nil {
		return Result{}, err
	}
	now := s.clock.Now()
	req, err := normalize(in)
	if err != nil {
		return Result{}, s.refused(ctx, p, req, err, now)
	}
	hash := requestHash(req)
	var res Result
	key := idem.Key{Scope: KeyScope, Key: req.IdempotencyKey, Actor: p.Identity(),
		RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(KeyRetention)}
	err = s.store.InTx(ctx, func(tx Store) error {
		stored, replayed, err := idem.Once(ctx, tx, &key, keyRefusals, func() (StoredResponse, error) {
			r, err := s.merge(ctx, tx, p, req, now)
			res = r
			return StoredResponse{SurvivorID: r.Survivor.ID, DuplicateID: r.Duplicate.ID, AuditEventID: r.Event.ID}, err
		})
		if err != nil || !replayed {
			return err
		}
		res, err = replay(ctx, tx, stored)
		return err
	})
	if err != nil {
		return Result{}, s.refused(ctx, p, req, err, now)
	}
	return res, nil
}

// keyRefusals words IDEMPOTENCY_KEY_REUSED for merges: keys are shared by all support agents
// (owner ""), and another agent's key is never replayed to (or attributed from) someone else.
var keyRefusals = idem.Refusals{
	OtherActor:   "this idempotency key was already used by another support agent; use a new key for your request",
	OtherRequest: "this idempotency key was already used for a different merge request; use a new key for a new request",
}

// merge does the work of Merge inside its transaction.
func (s *Service) merge(ctx context.Context, tx Store, p *auth.Principal, req Request, now time.Time) (Result, error) {
	ids := []uuid.UUID{req.SurvivorID, req.DuplicateID}
	profs, err := tx.LockProfiles(ctx, ids)
	if err != nil {
		return Result{}, fmt.Errorf("lock profiles: %w", err)
	}
	surv, dup, err := sides(profs, req.SurvivorID, req.DuplicateID)
	if err != nil {
		return Result{}, err
	}
	// Re-checked under the lock: the loser of A-into-B against B-into-A sees MERGED here.
	if err := checkSides(surv, dup); err != nil {
		return Result{}, err
	}
	// Locking the earned rows makes a renewal started or submitted at the same time land
	// either before (and the comparison below sees its new expiry) or after (on the moved
	// row, and refused if that row is superseded). They are locked before the link rows
	// because a renewal locks its earned row and then share-locks the link: the same order.
	earned, err := tx.Earned(ctx, ids, true)
	if err != nil {
		return Result{}, fmt.Errorf("lock earned certifications: %w", err)
	}
	links, err := tx.Links(ctx, ids, true)
	if err != nil {
		return Result{}, fmt.Errorf("lock links: %w", err)
	}
	plan, err := PlanLink(linkOf(links, surv.ID), linkOf(links, dup.ID), req.KeepLearnProfileOf, surv.AccountID == dup.AccountID)
	if err != nil {
		return Result{}, err
	}
	sup := Supersessions(surv.ID, earned)
	moved, err := tx.MoveRows(ctx, surv, dup, now)
	if err != nil {
		return Result{}, fmt.Errorf("move rows: %w", err)
	}
	if err := tx.Supersede(ctx, sup, now); err != nil {
		return Result{}, fmt.Errorf("supersede: %w", err)
	}
	if err := tx.ApplyLink(ctx, plan, surv.ID); err != nil {
		return Result{}, fmt.Errorf("move link: %w", err)
	}
	dupAfter, err := tx.MarkMerged(ctx, dup.ID, surv.ID, now)
	if err != nil {
		return Result{}, fmt.Errorf("mark merged: %w", err)
	}
	if err := tx.EmitWebhook(ctx, webhook.Merged(surv.ID, dup.ID, now)); err != nil {
		return Result{}, err
	}
	ev, err := audit.New(ActionMerge, p.Identity(), newMergeDetails(surv, dup, req, moved, sup, plan), now, ids...)
	if err != nil {
		return Result{}, err
	}
	reason := req.Reason
	ev.Reason, ev.Ticket = &reason, req.Ticket
	if ev, err = tx.InsertAudit(ctx, ev); err != nil {
		return Result{}, fmt.Errorf("audit: %w", err)
	}
	if err := tx.InsertMerge(ctx, surv.ID, dup.ID, ev.ID, now); err != nil {
		return Result{}, fmt.Errorf("record merge: %w", err)
	}
	return Result{Survivor: surv, Duplicate: dupAfter, Event: ev}, nil
}

// replay loads the result an idempotency key stored: the profiles as they are now and the
// audit event of the original merge.
func replay(ctx context.Context, tx Store, r StoredResponse) (Result, error) {
	if r.AuditEventID == uuid.Nil {
		return Result{}, errors.New("idempotency key holds no response")
	}
	profs, err := tx.Profiles(ctx, []uuid.UUID{r.SurvivorID, r.DuplicateID})
	if err != nil {
		return Result{}, fmt.Errorf("load profiles: %w", err)
	}
	evs, errs := tx.AuditEventsByIDs(ctx, []uuid.UUID{r.AuditEventID})
	if err := errors.Join(errs...); err != nil {
		return Result{}, fmt.Errorf("load audit event: %w", err)
	}
	surv, ok1 := profs[r.SurvivorID]
	dup, ok2 := profs[r.DuplicateID]
	if !ok1 || !ok2 {
		return Result{}, errors.New("stored merge response names a missing profile")
	}
	return Result{Survivor: surv, Duplicate: dup, Event: *evs[0], Replayed: true}, nil
}

// refused writes the audit event of a refused merge (in its own transaction, after the
// refusal rolled back) and returns the refusal. Errors that are not refusals (anything that
// is not an API error) pass through unaudited. A refusal that cannot be audited is reported
// as the audit failure: support never sees an unaudited refusal.
func (s *Service) refused(ctx context.Context, p *auth.Principal, req Request, refusal error, now time.Time) error {
	var ae *apperr.Error
	if !errors.As(refusal, &ae) || ae.Code == apperr.Internal {
		return refusal
	}
	ev, err := audit.New(ActionMergeRefused, p.Identity(), refusalDetails{
		Code: string(ae.Code), Message: ae.Message,
		SurvivorID: req.SurvivorID, DuplicateID: req.DuplicateID,
		IdempotencyKey: req.IdempotencyKey, KeepLearnProfileOf: req.KeepLearnProfileOf,
	}, now, uniqueIDs(req.SurvivorID, req.DuplicateID)...)
	if err != nil {
		return fmt.Errorf("audit refused merge: %w", err)
	}
	ev.Ticket = req.Ticket
	if r := strings.TrimSpace(req.Reason); r != "" {
		ev.Reason = &r
	}
	// Written even when the client has gone away, but not forever.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.store.InTx(actx, func(tx Store) error {
		_, err := tx.InsertAudit(actx, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("audit refused merge: %w", err)
	}
	return refusal
}

// AuditEvents lists a page of the audit events of a profile and of the profiles merged into
// it, newest first; hasNext tells whether more follow.
// Codes: UNAUTHENTICATED, FORBIDDEN (not support).
func (s *Service) AuditEvents(ctx context.Context, p *auth.Principal, profileID uuid.UUID, page Page) (events []AuditEvent, hasNext bool, err error) {
	if err := authorize(p, "read audit events"); err != nil {
		return nil, false, err
	}
	events, err = s.store.AuditEventsOf(ctx, profileID, Page{Limit: page.Limit + 1, After: page.After})
	if err != nil {
		return nil, false, fmt.Errorf("list audit events: %w", err)
	}
	if len(events) > page.Limit {
		return events[:page.Limit], true, nil
	}
	return events, false, nil
}

// CountAuditEvents counts what AuditEvents lists. Codes: UNAUTHENTICATED, FORBIDDEN.
func (s *Service) CountAuditEvents(ctx context.Context, p *auth.Principal, profileID uuid.UUID) (int, error) {
	if err := authorize(p, "read audit events"); err != nil {
		return 0, err
	}
	return s.store.CountAuditEventsOf(ctx, profileID)
}

// AuditEventsByIDs loads audit events in key order, for dataloaders: no permission check.
func (s *Service) AuditEventsByIDs(ctx context.Context, ids []uuid.UUID) ([]*AuditEvent, []error) {
	return s.store.AuditEventsByIDs(ctx, ids)
}

// PurgeExpiredKeys deletes the idempotency keys past their retention (expired at the clock's
// now): the merge's (KeyRetention) and those of the other keyed mutations (package idem) and returns how many it deleted. Run it periodically; correctness does not
// depend on it, since an expired key is treated as unused anyway.
func (s *Service) PurgeExpiredKeys(ctx context.Context) (int64, error) {
	return s.store.DeleteExpiredKeys(ctx, s.clock.Now())
}

func sides(profs map[uuid.UUID]certprofile.Profile, survivorID, duplicateID uuid.UUID) (surv, dup certprofile.Profile, err error) {
	surv, ok := profs[survivorID]
	if !ok {
		return surv, dup, apperr.E(apperr.NotFound, "survivor certification profile not found")
	}
	dup, ok = profs[duplicateID]
	if !ok {
		return surv, dup, apperr.E(apperr.NotFound, "duplicate certification profile not found")
	}
	return surv, dup, nil
}

func linkOf(links map[uuid.UUID]certprofile.Link, id uuid.UUID) *certprofile.Link {
	if l, ok := links[id]; ok {
		return &l
	}
	return nil
}

func uniqueIDs(ids ...uuid.UUID) []uuid.UUID {
	var out []uuid.UUID
	for _, id := range ids {
		if id != uuid.Nil && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// profileRef names a profile in audit details.
type profileRef struct {
	ID    uuid.UUID `json:"id"`
	MCID  string    `json:"mcid"`
	Email string    `json:"email"`
}

type linkRef struct {
	LearnProfileID         uuid.UUID `json:"learnProfileId"`
	CertificationProfileID uuid.UUID `json:"certificationProfileId"`
	LinkedAt               time.Time `json:"linkedAt"`
}

func refOfLink(l *certprofile.Link) *linkRef {
	if l == nil {
		return nil
	}
	return &linkRef{LearnProfileID: l.LearnProfileID, CertificationProfileID: l.CertificationProfileID, LinkedAt: l.LinkedAt}
}

type supersededRef struct {
	ID              uuid.UUID `json:"id"`
	SupersededBy    uuid.UUID `json:"supersededBy"`
	CertificationID uuid.UUID `json:"certificationId"`
}

// mergeDetails is the details JSON of a merge's audit event: enough to see, and if ever
// needed undo, exactly what the merge did.
type mergeDetails struct {
	Survivor           profileRef `json:"survivor"`
	Duplicate          profileRef `json:"duplicate"`
	IdempotencyKey     string     `json:"idempotencyKey"`
	KeepLearnProfileOf *Side      `json:"keepLearnProfileOf"`
	Counts             struct {
		EarnedCertifications int `json:"earnedCertifications"`
		ExamResults          int `json:"examResults"`
		Attempts             int `json:"attempts"`
		Renewals             int `json:"renewals"`
		Notifications        int `json:"notifications"`
		TranscriptShares     int `json:"transcriptShares"`
		AlternateEmails      int `json:"alternateEmails"`
		Superseded           int `json:"superseded"`
	} `json:"counts"`
	Moved      Moved           `json:"moved"`
	Superseded []supersededRef `json:"superseded"`
	// LinkMoved is the duplicate's Learn profile connection, now the survivor's.
	LinkMoved *linkRef `json:"learnProfileLinkMoved"`
	// LinkRemoved is the connection given up when both profiles were connected.
	LinkRemoved *linkRef `json:"learnProfileLinkRemoved"`
	// LinkDropped is the duplicate's connection, dropped because its Learn profile belongs
	// to another account than the survivor.
	LinkDropped *linkRef `json:"learnProfileLinkDropped"`
}

func newMergeDetails(surv, dup certprofile.Profile, req Request, moved Moved, sup []Supersession, plan LinkPlan) mergeDetails {
	d := mergeDetails{
		Survivor:           profileRef{ID: surv.ID, MCID: surv.MCIDString(), Email: surv.Email},
		Duplicate:          profileRef{ID: dup.ID, MCID: dup.MCIDString(), Email: dup.Email},
		IdempotencyKey:     req.IdempotencyKey,
		KeepLearnProfileOf: req.KeepLearnProfileOf,
		Moved:              moved,
		Superseded:         []supersededRef{},
		LinkMoved:          refOfLink(plan.Move),
		LinkRemoved:        refOfLink(plan.Remove),
		LinkDropped:        refOfLink(plan.Drop),
	}
	d.Counts.EarnedCertifications = len(moved.EarnedIDs)
	d.Counts.ExamResults = len(moved.ExamResultIDs)
	d.Counts.Attempts = moved.Attempts
	d.Counts.Renewals = moved.Renewals
	d.Counts.Notifications = moved.Notifications
	d.Counts.TranscriptShares = len(moved.TranscriptShareIDs)
	d.Counts.AlternateEmails = len(moved.AlternateEmails)
	d.Counts.Superseded = len(sup)
	for _, s := range sup {
		d.Superseded = append(d.Superseded, supersededRef{ID: s.Loser.ID, SupersededBy: s.Winner.ID, CertificationID: s.Loser.CertificationID})
	}
	return d
}

// refusalDetails is the details JSON of a refused merge.
type refusalDetails struct {
	Code               string    `json:"code"`
	Message            string    `json:"message"`
	SurvivorID         uuid.UUID `json:"survivorId"`
	DuplicateID        uuid.UUID `json:"duplicateId"`
	IdempotencyKey     string    `json:"idempotencyKey"`
	KeepLearnProfileOf *Side     `json:"keepLearnProfileOf"`
}
