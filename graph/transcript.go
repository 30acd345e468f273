package graph

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/transcript"
)

// transcriptLoaders batch the transcript lookups of one request. The per-profile lists are
// keyed by the profile and the page arguments, and each batch runs one query per distinct set
// of arguments for all its profiles, so a list of N profiles costs the same as one.
type transcriptLoaders struct {
	Earned     *dataloadgen.Loader[uuid.UUID, *transcript.Earned]
	Result     *dataloadgen.Loader[uuid.UUID, *transcript.ExamResult]
	EarnedPage *dataloadgen.Loader[earnedPageKey, renewal.Page]
	// earnedPages is EarnedPage's batch function, run at once by loadOne when nothing can batch.
	earnedPages func(context.Context, []earnedPageKey) ([]renewal.Page, []error)
	EarnedCount *dataloadgen.Loader[earnedCountKey, int]
	ResultPage  *dataloadgen.Loader[resultPageKey, transcript.ResultPage]
	ResultCount *dataloadgen.Loader[uuid.UUID, int]
	// The batch functions of ResultPage and ResultCount, for loadOne.
	resultPages  func(context.Context, []resultPageKey) ([]transcript.ResultPage, []error)
	resultCounts func(context.Context, []uuid.UUID) ([]int, []error)
	Shares       *dataloadgen.Loader[uuid.UUID, []transcript.Share]

	mu sync.Mutex
	// known holds the pages read with their profile (certificationProfile), by key.
	known map[earnedPageKey]renewal.Page
}

// earnedPageKey is one profile's page of earned certifications.
type earnedPageKey struct {
	profile  uuid.UUID
	first    int
	hasAfter bool
	afterOn  date.Date
	afterID  uuid.UUID
	statuses string // sorted, comma-separated; "" for every status
	total    bool   // count the profile's matching rows in the same statement
	renewal  bool   // each row's renewal status, read in the same statement
}

// query is the reader's query of the page k names, on the day today.
func (k earnedPageKey) query(today date.Date) transcript.EarnedQuery {
	return transcript.EarnedQuery{First: k.first, HasAfter: k.hasAfter, AfterOn: k.afterOn, AfterID: k.afterID,
		Filter: transcript.NewStatusFilter(parseStatuses(k.statuses), today), WithTotal: k.total}
}

// earnedPageKeyOf is the page a certifications field (the field of ctx) asks of profile.
func earnedPageKeyOf(ctx context.Context, profile uuid.UUID, first *int, after *string, status []transcript.Status) (earnedPageKey, error) {
	n, err := pageSize(first)
	if err != nil {
		return earnedPageKey{}, err
	}
	key := earnedPageKey{profile: profile, first: n, statuses: statusKey(status), total: wantsField(ctx, "totalCount"),
		renewal: selectedBelow(ctx, "EarnedCertificationConnection", earnedPaths...)["renewal"]}
	key.hasAfter, key.afterOn, key.afterID, err = keysetCursor(after, date.Parse)
	return key, err
}

// earnedPaths lead from an EarnedCertificationConnection to its earned certifications.
var earnedPaths = [][]hop{{{"nodes", "EarnedCertification"}}, {{"edges", "EarnedCertificationEdge"}, {"node", "EarnedCertification"}}}

// knowPage remembers a page of earned certifications read with its profile (certificationProfile).
func (l *transcriptLoaders) knowPage(key earnedPageKey, page renewal.Page) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known == nil {
		l.known = map[earnedPageKey]renewal.Page{}
	}
	l.known[key] = page
}

// knownPage returns the page read for key with its profile, if any.
func (l *transcriptLoaders) knownPage(key earnedPageKey) (renewal.Page, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	page, ok := l.known[key]
	return page, ok
}

type earnedCountKey struct {
	profile  uuid.UUID
	statuses string
}

// resultPageKey is one profile's page of exam results.
type resultPageKey struct {
	profile  uuid.UUID
	first    int
	hasAfter bool
	afterAt  int64 // UnixNano of the cursor's takenAt
	afterID  uuid.UUID
}

func newTranscriptLoaders(r *Resolver) *transcriptLoaders {
	w := r.loaderWait()
	ts := r.Transcripts
	earnedPages := perProfile(func(k earnedPageKey) (uuid.UUID, earnedPageKey) {
		p := k.profile
		k.profile = uuid.Nil
		return p, k
	}, func(ctx context.Context, k earnedPageKey, ids []uuid.UUID) ([]renewal.Page, error) {
		q := k.query(ts.Today())
		if k.renewal {
			profiles, err := loaders(ctx).Profiles.Profile.LoadAll(ctx, ids)
			if err != nil {
				return nil, err
			}
			return r.Renewals.Pages(ctx, auth.PrincipalFrom(ctx), profiles, q)
		}
		pages, err := ts.EarnedPages(ctx, ids, q)
		out := make([]renewal.Page, len(pages))
		for i := range pages {
			out[i] = renewal.Page{EarnedPage: pages[i], Views: renewal.ViewsOf(pages[i], ts.Today())}
		}
		return out, err
	})
	resultPages := perProfile(func(k resultPageKey) (uuid.UUID, resultPageKey) {
		p := k.profile
		k.profile = uuid.Nil
		return p, k
	}, func(ctx context.Context, k resultPageKey, ids []uuid.UUID) ([]transcript.ResultPage, error) {
		return ts.ResultPages(ctx, ids, transcript.ResultQuery{First: k.first, HasAfter: k.hasAfter,
			AfterAt: time.Unix(0, k.afterAt).UTC(), AfterID: k.afterID})
	})
	resultCounts := many(ts.CountResults)
	return &transcriptLoaders{
		EarnedPage:  dataloadgen.NewLoader(earnedPages, w),
		earnedPages: earnedPages,
		Earned:      dataloadgen.NewLoader(withCaller(ts.EarnedByIDs), w),
		Result:      dataloadgen.NewLoader(ts.ResultsByIDs, w),
		EarnedCount: dataloadgen.NewLoader(perProfile(func(k earnedCountKey) (uuid.UUID, string) {
			return k.profile, k.statuses
		}, func(ctx context.Context, statuses string, ids []uuid.UUID) ([]int, error) {
			return ts.CountEarned(ctx, ids, transcript.NewStatusFilter(parseStatuses(statuses), ts.Today()))
		}), w),
		ResultPage:   dataloadgen.NewLoader(resultPages, w),
		resultPages:  resultPages,
		ResultCount:  dataloadgen.NewLoader(resultCounts, w),
		resultCounts: resultCounts,
		Shares:       dataloadgen.NewLoader(many(ts.SharesByProfileIDs), w),
	}
}

// perProfile adapts a batch function over profile ids to loader keys that also carry
// arguments: keys are grouped by their arguments, and each group costs one call.
func perProfile[K comparable, G comparable, V any](split func(K) (uuid.UUID, G),
	run func(context.Context, G, []uuid.UUID) ([]V, error)) func(context.Context, []K) ([]V, []error) {
	return func(ctx context.Context, keys []K) ([]V, []error) {
		out := make([]V, len(keys))
		errs := make([]error, len(keys))
		groups := map[G][]int{}
		var order []G
		for i, k := range keys {
			_, g := split(k)
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], i)
		}
		for _, g := range order {
			idx := groups[g]
			ids := make([]uuid.UUID, len(idx))
			for j, i := range idx {
				ids[j], _ = split(keys[i])
			}
			vals, err := run(ctx, g, ids)
			for j, i := range idx {
				if err != nil {
					errs[i] = err
				} else {
					out[i] = vals[j]
				}
			}
		}
		return out, errs
	}
}

func statusKey(list []transcript.Status) string {
	s := make([]string, len(list))
	for i, st := range list {
		s[i] = string(st)
	}
	sort.Strings(s)
	return strings.Join(slices.Compact(s), ",")
}

func parseStatuses(key string) []transcript.Status {
	if key == "" {
		return nil
	}
	var out []transcript.Status
	for _, s := range strings.Split(key, ",") {
		out = append(out, transcript.Status(s))
	}
	return out
}

// RecordExamResult is the resolver for the recordExamResult field.
func (r *mutationResolver) RecordExamResult(ctx context.Context, in model.RecordExamResultInput) (*model.RecordExamResultPayload, error) {
	rec, err := r.Transcripts.RecordResult(ctx, auth.PrincipalFrom(ctx), transcript.NewResult{
		MCID: in.Mcid, ExamCode: in.ExamCode, Passed: in.Passed, Score: in.Score, TakenAt: in.TakenAt,
		Language: in.Language, ExternalID: in.ExternalID,
	})
	if err != nil {
		return nil, err
	}
	return &model.RecordExamResultPayload{ExamResult: &rec.Result, EarnedCertifications: r.earnedViews(ctx,
		rec.Earned[:min(len(rec.Earned), ListedEarned)], "RecordExamResultPayload", []hop{{"earnedCertifications", "EarnedCertification"}})}, nil
}

// Exam is the resolver for the exam field.
func (r *examResultResolver) Exam(ctx context.Context, res *transcript.ExamResult) (*catalog.Exam, error) {
	return loaders(ctx).Exam.Load(ctx, res.ExamCode)
}

// Certifications is the resolver for the certifications field.
func (r *certificationProfileResolver) Certifications(ctx context.Context, prof *certprofile.Profile, first *int, after *string, status []transcript.Status) (*model.EarnedCertificationConnection, error) {
	if err := transcript.CanReadHistory(auth.PrincipalFrom(ctx), prof); err != nil {
		return nil, err
	}
	key, err := earnedPageKeyOf(ctx, prof.ID, first, after, status)
	if err != nil {
		return nil, err
	}
	n := key.first
	l := loaders(ctx).Transcript
	page, ok := l.knownPage(key)
	if !ok {
		if page, err = loadOne(ctx, l.EarnedPage, l.earnedPages, key); err != nil {
			return nil, err
		}
	}
	for i := range page.Certifications {
		loaders(ctx).Certification.Prime(page.Certifications[i].ID, &page.Certifications[i])
		if i < len(page.Assessments) {
			loaders(ctx).Assessment.Prime(page.Certifications[i].ID, page.Assessments[i]) // for renewal status
		}
	}
	more := len(page.Views) > n
	rows := slices.Clone(page.Views[:min(len(page.Views), n)]) // the loader's page is shared: completed here
	r.completeViews(ctx, rows, "EarnedCertificationConnection", earnedPaths...)
	conn := &model.EarnedCertificationConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(rows, more, after, self,
		func(e *renewal.EarnedView) string { return encodeCursor(e.EarnedOn.String(), e.ID.String()) },
		func(cur string, e *renewal.EarnedView) *model.EarnedCertificationEdge {
			return &model.EarnedCertificationEdge{Cursor: cur, Node: e}
		})
	if key.total && len(page.Earned) > 0 {
		conn.TotalCount = page.Total // counted with the page; an empty page (no row to carry it) asks below
	} else if key.total {
		if conn.TotalCount, err = loaders(ctx).Transcript.EarnedCount.Load(ctx, earnedCountKey{prof.ID, key.statuses}); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// ExamResults is the resolver for the examResults field.
func (r *certificationProfileResolver) ExamResults(ctx context.Context, prof *certprofile.Profile, first *int, after *string) (*model.ExamResultConnection, error) {
	if err := transcript.CanReadHistory(auth.PrincipalFrom(ctx), prof); err != nil {
		return nil, err
	}
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	key := resultPageKey{profile: prof.ID, first: n}
	var at time.Time
	if key.hasAfter, at, key.afterID, err = keysetCursor(after, parseInstant); err != nil {
		return nil, err
	}
	key.afterAt = at.UnixNano()
	l := loaders(ctx).Transcript
	page, err := loadOne(ctx, l.ResultPage, l.resultPages, key)
	if err != nil {
		return nil, err
	}
	for i := range page.Exams {
		loaders(ctx).Exam.Prime(page.Exams[i].Code, &page.Exams[i])
	}
	rows := page.Results
	more := len(rows) > n
	rows = rows[:min(len(rows), n)]
	conn := &model.ExamResultConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(rows, more, after, self,
		func(res *transcript.ExamResult) string {
			return encodeCursor(res.TakenAt.UTC().Format(time.RFC3339Nano), res.ID.String())
		},
		func(cur string, res *transcript.ExamResult) *model.ExamResultEdge {
			return &model.ExamResultEdge{Cursor: cur, Node: res}
		})
	primeResults(ctx, rows, "ExamResultConnection", []hop{{"nodes", "ExamResult"}}, []hop{{"edges", "ExamResultEdge"}, {"node", "ExamResult"}})
	if wantsField(ctx, "totalCount") {
		if conn.TotalCount, err = loadOne(ctx, l.ResultCount, l.resultCounts, prof.ID); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// hop is one step down a selection: a field and the type it returns.
type hop struct{ field, typ string }

// selectedBelow returns the names of the fields the query selects below the current field
// (of type typ) along each path, fragments included.
func selectedBelow(ctx context.Context, typ string, paths ...[]hop) map[string]bool {
	oc := graphql.GetOperationContext(ctx)
	fc := graphql.GetFieldContext(ctx)
	out := map[string]bool{}
	if oc == nil || fc == nil {
		return out
	}
	for _, path := range paths {
		sets, cur := []ast.SelectionSet{fc.Field.Selections}, typ
		for _, h := range path {
			var next []ast.SelectionSet
			for _, s := range sets {
				for _, f := range graphql.CollectFields(oc, s, []string{cur, "Node"}) {
					if f.Name == h.field {
						next = append(next, f.Selections)
					}
				}
			}
			sets, cur = next, h.typ
		}
		for _, s := range sets {
			for _, f := range graphql.CollectFields(oc, s, []string{cur, "Node"}) {
				out[f.Name] = true
			}
		}
	}
	return out
}

func extend(path []hop, more ...hop) []hop { return append(slices.Clone(path), more...) }

// primeEarned loads, one batch per loader, what the selection asks of the certifications of
// a list of earned records: the certification and its paths (and their exams), prerequisites
// and renewal assessment. The loaders batch on a short wait, so a page of N items resolved
// concurrently could otherwise split into several batches; priming from the list keeps the
// statement count of a page independent of N. Errors are left to the field resolvers, which
// read the same cached results.
func primeEarned(ctx context.Context, list []transcript.Earned, typ string, paths ...[]hop) {
	var certPaths [][]hop
	for _, p := range paths {
		certPaths = append(certPaths, extend(p, hop{"certification", "Certification"}))
	}
	fields := selectedBelow(ctx, typ, certPaths...)
	if len(list) == 0 || len(fields) == 0 {
		return
	}
	ids := make([]uuid.UUID, 0, len(list))
	for _, e := range list {
		if !slices.Contains(ids, e.CertificationID) {
			ids = append(ids, e.CertificationID)
		}
	}
	primeCertifications(ctx, ids, fields)
}

// primeCertifications loads certifications and the catalog fields asked of them.
func primeCertifications(ctx context.Context, ids []uuid.UUID, fields map[string]bool) {
	if len(fields) == 0 || len(ids) == 0 {
		return
	}
	l := loaders(ctx)
	wait := []func(){}
	certs := l.Certification.LoadAllThunk(ctx, ids)
	wait = append(wait, func() { _, _ = certs() })
	var paths func() ([][][]string, error)
	if fields["requirementPaths"] {
		paths = l.Paths.LoadAllThunk(ctx, ids)
	}
	if fields["prerequisites"] {
		t := l.Prerequisites.LoadAllThunk(ctx, ids)
		wait = append(wait, func() { _, _ = t() })
	}
	if fields["renewalAssessment"] {
		t := l.Assessment.LoadAllThunk(ctx, ids)
		wait = append(wait, func() { _, _ = t() })
	}
	if paths != nil {
		if all, err := paths(); err == nil {
			var codes []string
			for _, cert := range all {
				for _, p := range cert {
					for _, c := range p {
						if !slices.Contains(codes, c) {
							codes = append(codes, c)
						}
					}
				}
			}
			_, _ = l.Exam.LoadAll(ctx, codes)
		}
	}
	for _, w := range wait {
		w()
	}
}

// primeResults loads, one batch, the exams the selection asks of a list of results.
func primeResults(ctx context.Context, list []transcript.ExamResult, typ string, paths ...[]hop) {
	var examPaths [][]hop
	for _, p := range paths {
		examPaths = append(examPaths, extend(p, hop{"exam", "Exam"}))
	}
	fields := selectedBelow(ctx, typ, examPaths...)
	if len(list) == 0 || len(fields) == 0 {
		return
	}
	var codes []string
	for _, r := range list {
		if !slices.Contains(codes, r.ExamCode) {
			codes = append(codes, r.ExamCode)
		}
	}
	exams, _ := loaders(ctx).Exam.LoadAll(ctx, codes)
	if fields["supersedes"] {
		var older []string
		for _, e := range exams {
			if e != nil && e.Supersedes != nil && !slices.Contains(older, *e.Supersedes) {
				older = append(older, *e.Supersedes)
			}
		}
		if len(older) > 0 {
			_, _ = loaders(ctx).Exam.LoadAll(ctx, older)
		}
	}
}

// TranscriptShares is the resolver for the transcriptShares field.
func (r *certificationProfileResolver) TranscriptShares(ctx context.Context, prof *certprofile.Profile) ([]*transcript.Share, error) {
	if err := transcript.CanManageShares(auth.PrincipalFrom(ctx), prof); err != nil {
		return nil, err
	}
	list, err := loaders(ctx).Transcript.Shares.Load(ctx, prof.ID)
	return ptrs(list), err
}

// CreateTranscriptShare is the resolver for the createTranscriptShare field.
func (r *mutationResolver) CreateTranscriptShare(ctx context.Context, in model.CreateTranscriptShareInput) (*model.CreateTranscriptSharePayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	sh, err := r.Transcripts.CreateShare(ctx, auth.PrincipalFrom(ctx), id, in.ExpiresAt, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	return &model.CreateTranscriptSharePayload{Share: &sh}, nil
}

// RevokeTranscriptShare is the resolver for the revokeTranscriptShare field.
func (r *mutationResolver) RevokeTranscriptShare(ctx context.Context, in model.RevokeTranscriptShareInput) (*model.RevokeTranscriptSharePayload, error) {
	id, err := decodeID(in.ShareID, kindShare)
	if err != nil {
		return nil, err
	}
	sh, err := r.Transcripts.RevokeShare(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &model.RevokeTranscriptSharePayload{Share: &sh}, nil
}

// Transcript serves transcript(shareCode). What it returns is walled by
// GuardPublicTranscript.
func (r *queryResolver) Transcript(ctx context.Context, code string) (*transcript.Public, error) {
	pub, err := r.Transcripts.View(ctx, code)
	if err != nil {
		return nil, err
	}
	primeResults(ctx, pub.ExamResults, "Transcript", []hop{{"examResults", "ExamResult"}})
	return &pub, nil
}

// transcriptNode resolves the ids of transcript objects the caller may see: earned
// certifications and exam results for the profile's owner or support, shares for the owner.
func (r *Resolver) transcriptNode(ctx context.Context, k kind, id uuid.UUID) (node.Node, error) {
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return nil, apperr.Missing("object")
	}
	l := loaders(ctx)
	var profileID uuid.UUID
	var n node.Node
	switch k {
	case kindEarned:
		e, err := l.Transcript.Earned.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		profileID = e.ProfileID
	case kindExamResult:
		res, err := l.Transcript.Result.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		profileID, n = res.ProfileID, res
	case kindShare:
		sh, err := r.Transcripts.Share(ctx, p, id)
		if err != nil {
			return nil, err
		}
		return &sh, nil
	default:
		return nil, apperr.Missing("object")
	}
	prof, err := l.Profiles.Profile.Load(ctx, profileID)
	if err != nil {
		return nil, err
	}
	if transcript.CanReadHistory(p, prof) != nil {
		return nil, apperr.Missing("object")
	}
	if k == kindEarned {
		return r.earnedView(ctx, id) // read once the caller may see it
	}
	return n, nil
}

type publicViewKey struct{}

// publicFields lists every field a public transcript may reach, by type: the transcript's
// own, the dates and status of its certifications, passed exams, and the public catalog. Never
// the email, attempts, renewal state, notifications or anything of support (docs/domain.md
// "Transcript sharing").
var publicFields = map[string][]string{
	"Transcript":          {"legalName", "mcid", "certifications", "examResults"},
	"EarnedCertification": {"certification", "earnedOn", "expiresOn", "status"},
	"ExamResult":          {"exam", "passed", "takenAt"},
	"Certification": {"id", "code", "name", "level", "releasedOn", "retiredOn", "expires",
		"renewalAvailableFrom", "prerequisites", "requirementPaths", "languages", "renewalAssessment"},
	"Exam": {"id", "code", "title", "languages", "retiredOn", "supersedes"},
	"RenewalAssessment": {"id", "certification", "version", "languages", "passingScore",
		"questionCount", "learningModules"},
	"LearningModule": {"title", "url"},
}

// PublicTranscriptFields returns, by type, the fields a public transcript may reach.
func PublicTranscriptFields() map[string][]string {
	out := make(map[string][]string, len(publicFields))
	for k, v := range publicFields {
		out[k] = slices.Clone(v)
	}
	return out
}

// GuardPublicTranscript is a field middleware walling in the public transcript: below
// Query.transcript only the fields of PublicTranscriptFields resolve, and any other (an
// earned certification's attempts or renewal, an id, a score ...) fails with FORBIDDEN before
// its resolver runs. Schema types are shared with the owner's view, so this is what keeps a
// share code from reaching private data whatever fields are added to those types later.
func GuardPublicTranscript(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return next(ctx)
	}
	if ctx.Value(publicViewKey{}) != nil {
		if fc.Field.Name != "__typename" && !slices.Contains(publicFields[fc.Object], fc.Field.Name) {
			return nil, apperr.E(apperr.Forbidden, "a shared transcript does not show %s.%s", fc.Object, fc.Field.Name)
		}
		return next(ctx)
	}
	if fc.Object == "Query" && fc.Field.Name == "transcript" {
		return next(context.WithValue(ctx, publicViewKey{}, true))
	}
	return next(ctx)
}

// Certifications is the resolver for the certifications field.
func (r *transcriptResolver) Certifications(ctx context.Context, obj *transcript.Public) ([]*renewal.EarnedView, error) {
	return r.earnedViews(ctx, obj.Certifications, "EarnedCertification"), nil
}
