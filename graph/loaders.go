package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/learner"
)

// DefaultLoaderWait is how long a loader collects keys before it runs its batch, unless
// Resolver.LoaderWait says otherwise.
const DefaultLoaderWait = 2 * time.Millisecond

// loaderWait is the batching window of this resolver's loaders.
func (r *Resolver) loaderWait() dataloadgen.Option {
	if r.LoaderWait > 0 {
		return dataloadgen.WithWait(r.LoaderWait)
	}
	return dataloadgen.WithWait(DefaultLoaderWait)
}

// Loaders are the per-request dataloaders: every list or reference field that resolves per
// parent goes through one, so a page of N objects costs a constant number of queries.
type Loaders struct {
	Account       *dataloadgen.Loader[uuid.UUID, *learner.Account]
	LearnProfile  *dataloadgen.Loader[uuid.UUID, *learner.LearnProfile]
	Certification *dataloadgen.Loader[uuid.UUID, *catalog.Certification]
	Prerequisites *dataloadgen.Loader[uuid.UUID, []catalog.Certification]
	Paths         *dataloadgen.Loader[uuid.UUID, [][]string]
	Exam          *dataloadgen.Loader[string, *catalog.Exam]
	Assessment    *dataloadgen.Loader[uuid.UUID, *catalog.Assessment] // current version by certification
	AssessmentVer *dataloadgen.Loader[uuid.UUID, *catalog.Assessment] // by version id
	Modules       *dataloadgen.Loader[uuid.UUID, []catalog.Module]
	StatusIndex   *dataloadgen.Loader[credential.Held, int64] // credential status list index, holder only

	// Each domain keeps its loaders in its own file of this package.
	Profiles   *profileLoaders
	Transcript *transcriptLoaders
	Renewal    *renewalLoaders
	Merge      *mergeLoaders
	Notify     *notifyLoaders
	Team       *teamLoaders
	// CalendarFeeds lists a profile's calendar feeds (graph/calendar.go checks the owner first).
	CalendarFeeds *dataloadgen.Loader[uuid.UUID, []calendar.Feed]
}

type loadersKey struct{}

// NewLoaders builds a fresh set of loaders for one request of caller p (nil: anonymous).
func (r *Resolver) NewLoaders(p *auth.Principal) *Loaders {
	cs := r.Catalog.Public(p)
	w := r.loaderWait()
	return &Loaders{
		Account:       dataloadgen.NewLoader(withCaller(r.Learner.Accounts), w),
		LearnProfile:  dataloadgen.NewLoader(withCaller(r.Learner.LearnProfiles), w),
		Certification: dataloadgen.NewLoader(cs.CertificationsByIDs, w),
		Prerequisites: dataloadgen.NewLoader(many(cs.PrerequisitesByCertIDs), w),
		Paths:         dataloadgen.NewLoader(many(cs.PathsByCertIDs), w),
		Exam:          dataloadgen.NewLoader(cs.ExamsByCodes, w),
		Assessment:    dataloadgen.NewLoader(many(cs.CurrentAssessmentsByCertIDs), w),
		AssessmentVer: dataloadgen.NewLoader(cs.AssessmentsByVersionIDs, w),
		Modules:       dataloadgen.NewLoader(many(cs.ModulesByVersionIDs), w),
		StatusIndex:   dataloadgen.NewLoader(withCaller(r.Credentials.StatusIndexes), w),
		Profiles:      newProfileLoaders(r),
		Transcript:    newTranscriptLoaders(r),
		Renewal:       newRenewalLoaders(r),
		Merge:         newMergeLoaders(r),
		Notify:        newNotifyLoaders(r),
		Team:          newTeamLoaders(r),
		CalendarFeeds: dataloadgen.NewLoader(many(r.Calendar.FeedsByProfileIDs), w),
	}
}

// many adapts a batch function that fails as a whole to the loader's per-key error shape.
func many[K comparable, V any](f func(context.Context, []K) ([]V, error)) func(context.Context, []K) ([]V, []error) {
	return func(ctx context.Context, keys []K) ([]V, []error) {
		v, err := f(ctx, keys)
		if err != nil {
			return nil, fill(len(keys), err)
		}
		return v, nil
	}
}

func fill(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// WithLoaders attaches loaders to a request context.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// loaders returns the request's loaders.
func loaders(ctx context.Context) *Loaders {
	l, _ := ctx.Value(loadersKey{}).(*Loaders)
	if l == nil {
		panic("graph: request has no dataloaders; wrap the handler with the loader middleware")
	}
	return l
}

// withCaller adapts a domain reader taking the caller to a loader's batch function.
func withCaller[K comparable, V any](read func(context.Context, *auth.Principal, []K) ([]V, []error)) func(context.Context, []K) ([]V, []error) {
	return func(ctx context.Context, keys []K) ([]V, []error) { return read(ctx, auth.PrincipalFrom(ctx), keys) }
}

// loadOne loads key through l, except when nothing else can join its batch: a field with a
// single parent (no list above it) in an operation with a single root field. Then fetch, the
// loader's own batch function, runs at once instead of after the batching window, and its
// result is primed for any later Load of the same key.
func loadOne[K comparable, V any](ctx context.Context, l *dataloadgen.Loader[K, V],
	fetch func(context.Context, []K) ([]V, []error), key K) (V, error) {
	if !alone(ctx) {
		return l.Load(ctx, key)
	}
	vals, errs := fetch(ctx, []K{key})
	if len(errs) > 0 && errs[0] != nil {
		var zero V
		return zero, errs[0]
	}
	l.Prime(key, vals[0])
	return vals[0], nil
}

// alone reports whether the current field is resolved once in the operation: no list above it
// and a single root field.
func alone(ctx context.Context) bool {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || len(oc.Operation.SelectionSet) != 1 {
		return false
	}
	if _, ok := oc.Operation.SelectionSet[0].(*ast.Field); !ok {
		return false
	}
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Index != nil {
			return false
		}
	}
	return true
}
