package httpserver

import (
	"context"
	"fmt"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/recert/recert/graph"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/ratelimit"
)

// The root fields with a bucket of their own per caller, besides the general limit. Each
// occurrence in a document takes one token (aliases cannot multiply them), before anything runs.
var (
	// CatalogOperations change the catalog (RATE_LIMIT_SUPPORT_*).
	CatalogOperations = []string{"upsertExam", "upsertCertification", "publishRenewalAssessment"}
	// MergeOperations preview and perform merges (RATE_LIMIT_MERGES_*): a separate bucket, so a
	// de-duplication tool can run a batch without being held back by its own reads.
	MergeOperations = []string{"mergeCertificationProfiles", "previewCertificationProfileMerge"}
	// SupportReads look profiles up by key (RATE_LIMIT_SUPPORT_READS_*). MCIDs are sequential,
	// so a staff token walking certificationProfile(mcid) or node(id) would enumerate every
	// learner: these count for support and admin tokens (a learner reading their own profile
	// does not), searchCertificationProfiles for every caller.
	SupportReads = []string{"certificationProfile", "node", "searchCertificationProfiles"}
)

// staffOnlyReads are the SupportReads charged whoever the caller is.
var staffOnlyReads = []string{"searchCertificationProfiles"}

// rateLimits are the server's token buckets; a nil one is off.
type rateLimits struct {
	principal, anonymous, authFailures *ratelimit.Limiter
	catalog, supportReads, merges      *ratelimit.Limiter
}

func (s *Server) newRateLimits() rateLimits {
	c := s.deps.Config.Hardening.RateLimits
	perMinute := func(n float64, burst int) *ratelimit.Limiter {
		if n <= 0 {
			return nil
		}
		return ratelimit.New(n/60, burst, 0, s.deps.Clock)
	}
	l := rateLimits{
		authFailures: perMinute(c.AuthFailuresPerMinute, c.AuthFailuresBurst),
		catalog:      perMinute(c.SupportPerMinute, c.SupportBurst),
		supportReads: perMinute(c.SupportReadsPerMinute, c.SupportReadsBurst),
		merges:       perMinute(c.MergesPerMinute, c.MergesBurst),
	}
	if c.PerSecond > 0 {
		l.principal = ratelimit.New(c.PerSecond, c.Burst, 0, s.deps.Clock)
	}
	if c.AnonPerSecond > 0 {
		l.anonymous = ratelimit.New(c.AnonPerSecond, c.AnonBurst, 0, s.deps.Clock)
	}
	return l
}

// graphQL builds the gqlgen handler: one GraphQL-over-HTTP transport (no multipart, form or
// websocket), the Guard (persisted queries, document limits, cost), introspection for
// development or staff, no field suggestions in production, the support rate limit, and the
// observers that feed logs and metrics.
func (s *Server) graphQL(res *graph.Resolver) (*handler.Server, error) {
	d := s.deps
	gql := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: res}))
	gql.AddTransport(httpTransport{s: s})
	parsed := lru.New[*ast.QueryDocument](1000)
	gql.SetQueryCache(parsed)
	gql.SetDisableSuggestion(d.Config.Production())
	limits := graph.DefaultLimits
	limits.MaxDepth = d.Config.Hardening.QueryMaxDepth
	limits.MaxCost = d.Config.Hardening.QueryMaxCost
	limits.ListBounds = graph.BoundsFor(res.Profiles.MaxProfiles(), res.Transcripts.MaxLive())
	guard := &graph.Guard{
		Limits: limits,
		APQ:    lru.New[string](1000),
		Parsed: parsed,
		OnReject: func(ctx context.Context, reason string) {
			s.metrics.rejected.WithLabelValues(reason).Inc()
		},
	}
	if f := d.Config.Hardening.TrustedDocuments; f != "" {
		docs, err := graph.LoadTrustedDocuments(f)
		if err != nil {
			return nil, err
		}
		guard.Trusted = docs
		d.Log.Info("trusted documents mode", "documents", docs.Len())
	}
	gql.Use(guard)
	gql.Use(&graph.InputGuard{OnReject: guard.OnReject}) // caps and storable text of every argument
	gql.Use(introspection{production: d.Config.Production()})
	gql.Use(supportLimit{s: s})
	gql.Use(accountLoader{s: s}) // last: only documents every check accepted reach the database
	gql.AroundFields(graph.MarkInternal)
	gql.AroundFields(graph.GuardPublicTranscript)
	gql.AroundResponses(s.observe)
	gql.SetErrorPresenter(graph.ErrorPresenter(d.Log, RequestID))
	gql.SetRecoverFunc(graph.Recover(d.Log))
	return gql, nil
}

// introspection allows introspection outside production, and in production to support and
// admin tokens only. A refused introspection is refused before execution with FORBIDDEN.
type introspection struct{ production bool }

func (introspection) ExtensionName() string                   { return "RecertIntrospection" }
func (introspection) Validate(graphql.ExecutableSchema) error { return nil }
func (i introspection) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p := auth.PrincipalFrom(ctx)
	if !i.production || p.HasRole(auth.RoleSupport) || p.HasRole(auth.RoleAdmin) {
		oc.DisableIntrospection = false
		return nil
	}
	oc.DisableIntrospection = true
	if usesIntrospection(oc.Operation.SelectionSet, map[string]bool{}) {
		err := apperr.Deny("introspection is disabled")
		return &gqlerror.Error{Err: err, Message: err.Message}
	}
	return nil
}

// usesIntrospection reports whether a selection set selects __schema or __type anywhere,
// walking each fragment once.
func usesIntrospection(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "__schema" || sel.Name == "__type" || usesIntrospection(sel.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if usesIntrospection(sel.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if !seen[sel.Name] && sel.Definition != nil {
				seen[sel.Name] = true
				if usesIntrospection(sel.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}

// rootFields lists the root fields an operation selects (fragments followed once), in order.
func rootFields(set ast.SelectionSet, seen map[string]bool, out []string) []string {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			out = append(out, sel.Name)
		case *ast.InlineFragment:
			out = rootFields(sel.SelectionSet, seen, out)
		case *ast.FragmentSpread:
			if !seen[sel.Name] && sel.Definition != nil {
				seen[sel.Name] = true
				out = rootFields(sel.Definition.SelectionSet, seen, out)
			}
		}
	}
	return out
}

// supportLimit takes, before anything runs, one token per occurrence of a root field of
// CatalogOperations, MergeOperations and SupportReads from the caller's bucket for it.
// Codes: RATE_LIMITED (with retryAt).
type supportLimit struct{ s *Server }

func (supportLimit) ExtensionName() string                   { return "RecertSupportLimit" }
func (supportLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (l supportLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p := auth.PrincipalFrom(ctx)
	staff := p.HasRole(auth.RoleSupport) || p.HasRole(auth.RoleAdmin)
	var catalog, merges, reads int
	for _, f := range rootFields(oc.Operation.SelectionSet, map[string]bool{}, nil) {
		switch {
		case slices.Contains(CatalogOperations, f):
			catalog++
		case slices.Contains(MergeOperations, f):
			merges++
		case slices.Contains(SupportReads, f) && (staff || slices.Contains(staffOnlyReads, f)):
			reads++
		}
	}
	key := "ip:unknown"
	if p != nil {
		key = "p:" + p.Identity()
	} else if ip, ok := ctx.Value(clientIPKey{}).(string); ok {
		key = "ip:" + ip
	}
	lims := l.s.limits
	for _, b := range []struct {
		lim   *ratelimit.Limiter
		n     int
		label string
	}{{lims.catalog, catalog, "support"}, {lims.merges, merges, "merges"}, {lims.supportReads, reads, "support_reads"}} {
		if b.lim == nil || b.n == 0 {
			continue
		}
		if ok, retryAt := b.lim.Allow(key, b.n); !ok {
			l.s.metrics.rateLimited.WithLabelValues(b.label).Inc()
			err := rateLimitError(retryAt)
			return &gqlerror.Error{Err: err, Message: err.Message}
		}
	}
	return nil
}

type clientIPKey struct{}

// operationLabel names an operation for metrics with a bounded set of values: its type and
// first root field, and "+" when it selects more than one.
func operationLabel(oc *graphql.OperationContext) string {
	if oc == nil || oc.Operation == nil {
		return "invalid"
	}
	fields := rootFields(oc.Operation.SelectionSet, map[string]bool{}, nil)
	if len(fields) == 0 {
		return string(oc.Operation.Operation)
	}
	label := fmt.Sprintf("%s:%s", oc.Operation.Operation, fields[0])
	if len(fields) > 1 {
		label += "+"
	}
	return label
}

// observe records every GraphQL response (executed or refused) in the request log and metrics:
// operation, outcome (the first error code, or ok), error codes, cost and latency.
func (s *Server) observe(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
	}
	label := operationLabel(oc)
	ri := info(ctx)
	ri.mu.Lock()
	ri.opLabel = label
	if oc != nil {
		ri.opName = oc.OperationName
	}
	if c := graph.CostOf(ctx); c != nil {
		ri.cost = c.Requested
		s.metrics.cost.Observe(float64(c.Requested))
	}
	ri.mu.Unlock()
	outcome := "ok"
	if resp != nil {
		for i, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" {
				code = string(apperr.Internal)
			}
			if i == 0 {
				outcome = code
			}
			ri.addCode(code)
			s.metrics.errors.WithLabelValues(code).Inc()
		}
	}
	s.metrics.operations.WithLabelValues(label, outcome).Inc()
	if oc != nil && !oc.Stats.OperationStart.IsZero() {
		s.metrics.duration.WithLabelValues(label).Observe(graphql.Now().Sub(oc.Stats.OperationStart).Seconds())
	}
	return resp
}

// accountLoader makes sure the account and Learn profile of an authenticated caller exist and
// sets the principal's AccountID, once the operation has passed every other check.
// Codes: INTERNAL.
type accountLoader struct{ s *Server }

func (accountLoader) ExtensionName() string                   { return "RecertAccount" }
func (accountLoader) Validate(graphql.ExecutableSchema) error { return nil }
func (l accountLoader) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return nil
	}
	a, lp, err := l.s.Resolver.Learner.Ensure(ctx, p)
	if err != nil {
		l.s.deps.Log.ErrorContext(ctx, "ensure account", "request_id", RequestID(ctx), "error", err)
		ae := apperr.E(apperr.Internal, "internal error")
		return &gqlerror.Error{Err: ae, Message: ae.Message}
	}
	graph.PrimeCaller(ctx, a, lp)
	return nil
}
