package httpserver

import (
	"context"
	"fmt"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/querylimits"
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

func newRateLimits(cfg config.Config, clk clock.Clock) rateLimits {
	c := cfg.Hardening.RateLimits
	perMinute := func(n float64, burst int) *ratelimit.Limiter {
		if n <= 0 {
			return nil
		}
		return ratelimit.New(n/60, burst, 0, clk)
	}
	l := rateLimits{
		authFailures: perMinute(c.AuthFailuresPerMinute, c.AuthFailuresBurst),
		catalog:      perMinute(c.SupportPerMinute, c.SupportBurst),
		supportReads: perMinute(c.SupportReadsPerMinute, c.SupportReadsBurst),
		merges:       perMinute(c.MergesPerMinute, c.MergesBurst),
	}
	if c.PerSecond > 0 {
		l.principal = ratelimit.New(c.PerSecond, c.Burst, 0, clk)
	}
	if c.AnonPerSecond > 0 {
		l.anonymous = ratelimit.New(c.AnonPerSecond, c.AnonBurst, 0, clk)
	}
	return l
}

// Edge is what the HTTP server shares with the GraphQL handler it serves: the metrics and the
// rate-limit buckets. Its Transport and Extensions go into graph.NewHandler, and the Server
// built with the same Edge counts and limits with them.
type Edge struct {
	registry *prometheus.Registry
	metrics  *metrics
	limits   rateLimits
	clock    clock.Clock
}

// NewEdge registers the HTTP and GraphQL metrics on reg (a new registry with the Go and process
// collectors when nil) and builds the rate limits cfg configures.
func NewEdge(cfg config.Config, clk clock.Clock, reg *prometheus.Registry) *Edge {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return &Edge{registry: reg, metrics: newMetrics(reg), limits: newRateLimits(cfg, clk), clock: clk}
}

// Transport is the only gqlgen transport to install: GraphQL over HTTP, POST and GET.
func (e *Edge) Transport() graphql.Transport { return httpTransport{e: e} }

// Extensions are the gqlgen extensions of the HTTP side, to run once the document has passed
// the document limits and before the caller's account is loaded: the per-field rate limits
// (support, merges, support reads) and the observer that feeds the access log and the metrics.
func (e *Edge) Extensions() []graphql.HandlerExtension {
	return []graphql.HandlerExtension{supportLimit{e: e}, observer{e: e}}
}

// Rejected counts a document refused by a document limit, by reason (querylimits.Guard's
// OnReject).
func (e *Edge) Rejected(_ context.Context, reason string) {
	e.metrics.rejected.WithLabelValues(reason).Inc()
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
type supportLimit struct{ e *Edge }

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
	lims := l.e.limits
	for _, b := range []struct {
		lim   *ratelimit.Limiter
		n     int
		label string
	}{{lims.catalog, catalog, "support"}, {lims.merges, merges, "merges"}, {lims.supportReads, reads, "support_reads"}} {
		if b.lim == nil || b.n == 0 {
			continue
		}
		if ok, retryAt := b.lim.Allow(key, b.n); !ok {
			l.e.metrics.rateLimited.WithLabelValues(b.label).Inc()
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

// observer records every GraphQL response (executed or refused) in the request log and metrics:
// operation, outcome (the first error code, or ok), error codes, cost and latency.
type observer struct{ e *Edge }

func (observer) ExtensionName() string                   { return "RecertObserver" }
func (observer) Validate(graphql.ExecutableSchema) error { return nil }
func (o observer) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	s := o.e
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
	if c := querylimits.CostOf(ctx); c != nil {
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
