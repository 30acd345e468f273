package graph

import (
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/transcript"
)

// renewalLoaders batch the renewal lookups of one request.
type renewalLoaders struct {
	Attempt  *dataloadgen.Loader[uuid.UUID, *renewal.Attempt]
	Attempts *dataloadgen.Loader[renewal.Held, []renewal.Attempt]        // by earned certification
	Renewals *dataloadgen.Loader[renewal.Held, []renewal.Renewal]        // by earned certification
	Served   *dataloadgen.Loader[renewal.Held, []renewal.ServedQuestion] // by attempt (Held.EarnedID is the attempt's id)
}

func newRenewalLoaders(r *Resolver) *renewalLoaders {
	s := r.Renewals
	w := r.loaderWait()
	return &renewalLoaders{
		Attempt:  dataloadgen.NewLoader(s.AttemptsByIDs, w),
		Attempts: dataloadgen.NewLoader(withCaller(s.Attempts), w),
		Renewals: dataloadgen.NewLoader(withCaller(s.Renewals), w),
		Served:   dataloadgen.NewLoader(withCaller(s.Questions), w),
	}
}

// forgetRenewals drops cached renewal state after a mutation changed it (attempts, renewals,
// an earned certification's expiry), so the payload and any later field or mutation of the
// same operation read the new state.
func forgetRenewals(ctx context.Context) {
	l := loaders(ctx).Renewal
	loaders(ctx).Transcript.Earned.ClearAll()
	loaders(ctx).Transcript.EarnedPage.ClearAll()
	loaders(ctx).Transcript.mu.Lock()
	loaders(ctx).Transcript.known = nil
	loaders(ctx).Transcript.mu.Unlock()
	l.Attempt.ClearAll()
	l.Attempts.ClearAll()
	l.Renewals.ClearAll()
}

// held names e with the account holding it, for the renewal readers' rule.
func held(ctx context.Context, e *transcript.Earned) (renewal.Held, error) {
	prof, err := loaders(ctx).Profiles.Profile.Load(ctx, e.ProfileID)
	if err != nil {
		return renewal.Held{}, err
	}
	return renewal.Held{EarnedID: e.ID, Owner: prof.AccountID}, nil
}

// attemptHeld names the earned certification of a with the account holding it.
func attemptHeld(ctx context.Context, a *renewal.Attempt) (renewal.Held, error) {
	e, err := loaders(ctx).Transcript.Earned.Load(ctx, a.EarnedID)
	if err != nil {
		return renewal.Held{}, err
	}
	return held(ctx, e)
}

// renewalNode resolves the ids of renewal objects the caller may see: an attempt, for the
// holder of its certification or support (renewal.MayRead).
func (r *Resolver) renewalNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	if k != kindAttempt {
		return nil, apperr.Missing("object")
	}
	a, err := loaders(ctx).Renewal.Attempt.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	h, err := attemptHeld(ctx, a)
	if err != nil {
		return nil, err
	}
	if renewal.MayRead(auth.PrincipalFrom(ctx), h.Owner) != nil {
		return nil, apperr.Missing("attempt")
	}
	return a, nil
}

// renewalStatus is EarnedCertification.renewal for a view its producer did not read it with
// (renewal.Service.Pages does): the same rule Start applies (renewal.Check) over facts
// gathered through loaders.
func (r *Resolver) renewalStatus(ctx context.Context, e *transcript.Earned) (*renewal.Status, error) {
	l := loaders(ctx)
	h, err := held(ctx, e)
	if err != nil {
		return nil, err
	}
	attempts, err := l.Renewal.Attempts.Load(ctx, h) // the domain refuses anyone but the holder and support
	if err != nil {
		return nil, err
	}
	cert, err := l.Certification.Load(ctx, e.CertificationID)
	if err != nil {
		return nil, err
	}
	var asmt *catalog.Assessment
	if asmt, err = l.Assessment.Load(ctx, e.CertificationID); err != nil && apperr.CodeOf(err) != apperr.NotFound {
		return nil, err
	}
	link, err := l.Profiles.LinkByProfile.Load(ctx, e.ProfileID)
	if err != nil {
		return nil, err
	}
	st := r.Renewals.Status(renewal.Facts{Earned: *e, Certification: *cert, Assessment: asmt, Linked: link != nil, Attempts: attempts})
	return &st, nil
}

// Attempts is the resolver for the attempts field.
func (r *earnedCertificationResolver) Attempts(ctx context.Context, e *renewal.EarnedView) ([]*renewal.Attempt, error) {
	h, err := held(ctx, &e.Earned)
	if err != nil {
		return nil, err
	}
	list, err := loaders(ctx).Renewal.Attempts.Load(ctx, h)
	return ptrs(latest(list, ListedAttempts)), err
}

// Renewals is the resolver for the renewals field.
func (r *earnedCertificationResolver) Renewals(ctx context.Context, e *renewal.EarnedView) ([]*renewal.Renewal, error) {
	h, err := held(ctx, &e.Earned)
	if err != nil {
		return nil, err
	}
	list, err := loaders(ctx).Renewal.Renewals.Load(ctx, h)
	return ptrs(latest(list, ListedRenewals)), err
}

// latest returns the last n items of a list kept oldest first: the bound the cost model prices.
func latest[T any](list []T, n int) []T { return list[max(len(list)-n, 0):] }

// EarnedCertification is the resolver for the earnedCertification field.
func (r *assessmentAttemptResolver) EarnedCertification(ctx context.Context, a *renewal.Attempt) (*renewal.EarnedView, error) {
	return r.earnedView(ctx, a.EarnedID)
}

// Questions is the resolver for the questions field.
func (r *assessmentAttemptResolver) Questions(ctx context.Context, a *renewal.Attempt) ([]*renewal.ServedQuestion, error) {
	h, err := attemptHeld(ctx, a)
	if err != nil {
		return nil, err
	}
	h.EarnedID = a.ID // the served questions are keyed by attempt
	list, err := loaders(ctx).Renewal.Served.Load(ctx, h)
	return ptrs(list), err
}

// Attempt is the resolver for the attempt field.
func (r *renewalResolver) Attempt(ctx context.Context, rn *renewal.Renewal) (*renewal.Attempt, error) {
	return loaders(ctx).Renewal.Attempt.Load(ctx, rn.AttemptID)
}

// StartRenewalAssessment is the resolver for the startRenewalAssessment field.
func (r *mutationResolver) StartRenewalAssessment(ctx context.Context, in model.StartRenewalAssessmentInput) (*model.StartRenewalAssessmentPayload, error) {
	id, err := decodeID(in.EarnedCertificationID, kindEarned)
	if err != nil {
		return nil, err
	}
	a, err := r.Renewals.Start(ctx, auth.PrincipalFrom(ctx), id, in.Language)
	forgetRenewals(ctx)
	if err != nil {
		return nil, opaqueAttemptID(err)
	}
	return &model.StartRenewalAssessmentPayload{Attempt: &a}, nil
}

// opaqueAttemptID turns the attemptId extension of ATTEMPT_IN_PROGRESS into an opaque id.
func opaqueAttemptID(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		if id, ok := ae.Extensions["attemptId"].(uuid.UUID); ok {
			return ae.With("attemptId", encodeID(kindAttempt, id))
		}
	}
	return err
}

// SubmitRenewalAssessment is the resolver for the submitRenewalAssessment field.
func (r *mutationResolver) SubmitRenewalAssessment(ctx context.Context, in model.SubmitRenewalAssessmentInput) (*model.SubmitRenewalAssessmentPayload, error) {
	id, err := decodeID(in.AttemptID, kindAttempt)
	if err != nil {
		return nil, err
	}
	answers := make([]renewal.Answer, len(in.Answers))
	for i, a := range in.Answers {
		q, err := uuid.Parse(a.QuestionID)
		if err != nil {
			return nil, apperr.Invalid("answer %d: malformed questionId", i+1)
		}
		answers[i].QuestionID = q
		for _, c := range a.ChoiceIds {
			cid, err := uuid.Parse(c)
			if err != nil {
				return nil, apperr.Invalid("answer %d: malformed choiceId", i+1)
			}
			answers[i].ChoiceIDs = append(answers[i].ChoiceIDs, cid)
		}
	}
	sub, err := r.Renewals.Submit(ctx, auth.PrincipalFrom(ctx), id, answers)
	forgetRenewals(ctx)
	if err != nil {
		return nil, err
	}
	return &model.SubmitRenewalAssessmentPayload{Attempt: &sub.Attempt, EarnedCertification: r.earnedViews(ctx,
		[]transcript.Earned{sub.Earned}, "SubmitRenewalAssessmentPayload", []hop{{"earnedCertification", "EarnedCertification"}})[0]}, nil
}

// primeRenewal loads, one batch per loader, the renewal facts the selection (fields, below typ
// along paths) asks of a list of earned certifications (the facts of their renewal status when
// status is set, attempts and their questions, renewals), so the loaders' short batching wait
// cannot split a page into several queries on a busy machine and the statement count of a page
// stays independent of its length. Errors are left to the readers of the same cached results.
func primeRenewal(ctx context.Context, list []transcript.Earned, status bool, fields map[string]bool, typ string, paths ...[]hop) {
	l := loaders(ctx)
	if len(list) == 0 || !(status || fields["attempts"] || fields["renewals"]) {
		return
	}
	earnedIDs := make([]uuid.UUID, 0, len(list))
	var certIDs, profileIDs []uuid.UUID
	for _, e := range list {
		earnedIDs = append(earnedIDs, e.ID)
		if !slices.Contains(certIDs, e.CertificationID) {
			certIDs = append(certIDs, e.CertificationID)
		}
		if !slices.Contains(profileIDs, e.ProfileID) {
			profileIDs = append(profileIDs, e.ProfileID)
		}
	}
	for i := range list {
		l.Transcript.Earned.Prime(list[i].ID, &list[i])
	}
	profiles, _ := l.Profiles.Profile.LoadAll(ctx, profileIDs)
	owner := map[uuid.UUID]uuid.UUID{}
	for _, p := range profiles {
		if p != nil {
			owner[p.ID] = p.AccountID
		}
	}
	helds := make([]renewal.Held, len(list))
	for i, e := range list {
		helds[i] = renewal.Held{EarnedID: e.ID, Owner: owner[e.ProfileID]}
	}
	attempts := func() ([][]renewal.Attempt, error) { return nil, nil }
	if status || fields["attempts"] {
		attempts = l.Renewal.Attempts.LoadAllThunk(ctx, helds)
	}
	var wait []func()
	if status {
		certs := l.Certification.LoadAllThunk(ctx, certIDs)
		asmts := l.Assessment.LoadAllThunk(ctx, certIDs)
		links := l.Profiles.LinkByProfile.LoadAllThunk(ctx, profileIDs)
		wait = append(wait, func() { _, _ = certs() }, func() { _, _ = asmts() }, func() { _, _ = links() })
	}
	if fields["renewals"] {
		rs := l.Renewal.Renewals.LoadAllThunk(ctx, helds)
		wait = append(wait, func() { _, _ = rs() })
	}
	if all, err := attempts(); err == nil && fields["attempts"] {
		var attempts []renewal.Held
		for j, list := range all {
			for i := range list {
				attempts = append(attempts, renewal.Held{EarnedID: list[i].ID, Owner: helds[j].Owner})
				l.Renewal.Attempt.Prime(list[i].ID, &list[i])
			}
		}
		questions := selectedBelow(ctx, typ, extendAll(paths, hop{"attempts", "AssessmentAttempt"})...)
		if questions["questions"] && len(attempts) > 0 {
			_, _ = l.Renewal.Served.LoadAll(ctx, attempts)
		}
	}
	for _, w := range wait {
		w()
	}
}

func extendAll(paths [][]hop, more ...hop) [][]hop {
	out := make([][]hop, len(paths))
	for i, p := range paths {
		out[i] = extend(p, more...)
	}
	return out
}
