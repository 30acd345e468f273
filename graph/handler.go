package graph

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/querylimits"
)

// HandlerConfig is what the GraphQL handler is built from.
type HandlerConfig struct {
	Resolver *Resolver
	Log      *slog.Logger
	// Production turns field suggestions off and limits introspection to staff tokens.
	Production bool
	// Limits bounds documents (querylimits.Guard); zero fields take querylimits.DefaultLimits.
	Limits querylimits.Limits
	// APQ holds the automatic persisted queries (querylimits.SharedAPQ, shared by every
	// instance); nil keeps them in this process only.
	APQ graphql.Cache[string]
	// Trusted, when set, is the only set of documents the handler runs (trusted-documents mode).
	Trusted *querylimits.TrustedDocuments
	// Transport is the one transport installed (the HTTP server's GraphQL over HTTP).
	Transport graphql.Transport
	// Extensions run after the document checks and before the caller's account is loaded
	// (the HTTP server's rate limits and observers).
	Extensions []graphql.HandlerExtension
	// OnReject is told of every document a limit refuses, with the reason (may be nil).
	OnReject func(ctx context.Context, reason string)
	// RequestID names the request in logs and INTERNAL errors.
	RequestID RequestIDFunc
}

// NewHandler builds the GraphQL handler that server.go serves and the API tests drive: the
// executable schema on c.Resolver; one transport; the Guard (persisted queries, document
// limits, cost) and the InputGuard; introspection for development or staff; c.Extensions;
// then the caller's account, loaded only for documents every check accepted; the error
// presenter and panic recovery. Every request gets fresh dataloaders.
func NewHandler(c HandlerConfig) http.Handler {
	res := c.Resolver
	gql := handler.New(NewExecutableSchema(Config{Resolvers: res}))
	gql.AddTransport(c.Transport)
	parsed := lru.New[*ast.QueryDocument](1000)
	gql.SetQueryCache(parsed)
	gql.SetDisableSuggestion(c.Production)
	apq := c.APQ
	if apq == nil {
		apq = lru.New[string](1000)
	}
	guard := &querylimits.Guard{
		Limits:   c.Limits,
		APQ:      apq,
		Parsed:   parsed,
		Trusted:  c.Trusted,
		OnReject: c.OnReject,
	}
	gql.Use(guard)
	gql.Use(&querylimits.InputGuard{OnReject: c.OnReject}) // caps and storable text of every argument
	gql.Use(introspectionGate{production: c.Production})
	for _, e := range c.Extensions {
		if _, ok := e.(graphql.FieldInterceptor); ok {
			// fieldMiddleware sets each operation's field middleware, which would bypass it.
			panic(fmt.Sprintf("graph: extension %s intercepts fields; add it to fieldMiddleware instead", e.ExtensionName()))
		}
		gql.Use(e)
	}
	gql.Use(accountLoader{res: res, log: c.Log, requestID: c.RequestID}) // last: only accepted documents reach the database
	gql.Use(fieldMiddleware{})
	gql.SetErrorPresenter(ErrorPresenter(c.Log, c.RequestID))
	gql.SetRecoverFunc(Recover(c.Log))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gql.ServeHTTP(w, r.WithContext(WithLoaders(r.Context(), res.NewLoaders(auth.PrincipalFrom(r.Context())))))
	})
}

// fieldMiddleware picks the one field middleware of an operation: MarkInternal, and
// GuardPublicTranscript inside it when the operation selects Query.transcript (the only way
// into the public view). gqlgen runs every field of a response through the operation's
// ResolverMiddleware; one registered with AroundFields costs a closure per field and the
// guard's context lookup on every field, about a twentieth of a dashboard request's
// allocations (issue 12). The handler registers no other field interceptor, so setting
// ResolverMiddleware replaces nothing else: NewHandler refuses an extension that intercepts
// fields (TestHandlerRefusesFieldInterceptors).
type fieldMiddleware struct{}

func (fieldMiddleware) ExtensionName() string                   { return "RecertFields" }
func (fieldMiddleware) Validate(graphql.ExecutableSchema) error { return nil }
func (fieldMiddleware) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation != nil && !selects(oc.Operation.SelectionSet, false, isTranscript, map[string]bool{}) {
		oc.ResolverMiddleware = MarkInternal
		return nil
	}
	oc.ResolverMiddleware = guardedFields
	return nil
}

func isTranscript(f *ast.Field) bool    { return f.Name == "transcript" }
func isIntrospection(f *ast.Field) bool { return f.Name == "__schema" || f.Name == "__type" }

// guardedFields is GuardPublicTranscript inside MarkInternal.
func guardedFields(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := GuardPublicTranscript(ctx, next)
	return res, markInternal(err)
}

// selects reports whether a selection set selects a field match accepts: among its own fields
// and those of its fragments (each walked once), and with deep also below any field.
func selects(set ast.SelectionSet, deep bool, match func(*ast.Field) bool, seen map[string]bool) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if match(sel) || deep && selects(sel.SelectionSet, deep, match, seen) {
				return true
			}
		case *ast.InlineFragment:
			if selects(sel.SelectionSet, deep, match, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if !seen[sel.Name] && sel.Definition != nil {
				seen[sel.Name] = true
				if selects(sel.Definition.SelectionSet, deep, match, seen) {
					return true
				}
			}
		}
	}
	return false
}

// introspectionGate allows introspection outside production, and in production to support and
// admin tokens only. A refused introspection is refused before execution with FORBIDDEN.
type introspectionGate struct{ production bool }

func (introspectionGate) ExtensionName() string                   { return "RecertIntrospection" }
func (introspectionGate) Validate(graphql.ExecutableSchema) error { return nil }
func (i introspectionGate) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p := auth.PrincipalFrom(ctx)
	if !i.production || p.HasRole(auth.RoleSupport) || p.HasRole(auth.RoleAdmin) {
		oc.DisableIntrospection = false
		return nil
	}
	oc.DisableIntrospection = true
	if selects(oc.Operation.SelectionSet, true, isIntrospection, map[string]bool{}) {
		err := apperr.Deny("introspection is disabled")
		return &gqlerror.Error{Err: err, Message: err.Message}
	}
	return nil
}

// accountLoader makes sure the account and Learn profile of an authenticated caller exist and
// sets the principal's AccountID, once the operation has passed every other check.
// Codes: UNAVAILABLE (the database is unreachable or read-only), INTERNAL.
type accountLoader struct {
	res       *Resolver
	log       *slog.Logger
	requestID RequestIDFunc
}

func (accountLoader) ExtensionName() string                   { return "RecertAccount" }
func (accountLoader) Validate(graphql.ExecutableSchema) error { return nil }
func (l accountLoader) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return nil
	}
	if a, lp, ok := l.res.Learner.Known(p); ok {
		PrimeCaller(ctx, a, lp)
		return nil
	}
	if identifiedByScreen(oc) {
		return nil // the screen's statement reads the account (Resolver.certificationProfile)
	}
	a, lp, err := l.res.Learner.Ensure(ctx, p)
	if err != nil {
		ae := apperr.E(apperr.Internal, "internal error")
		if apperr.IsUnavailable(err) {
			l.log.WarnContext(ctx, "ensure account: database unavailable", "request_id", l.requestID(ctx), "error", err)
			ae = apperr.UnavailableError()
		} else {
			l.log.ErrorContext(ctx, "ensure account", "request_id", l.requestID(ctx), "error", err)
		}
		return &gqlerror.Error{Err: ae, Message: ae.Message}
	}
	PrimeCaller(ctx, a, lp)
	return nil
}

// identifiedByScreen reports whether an operation is a query of certificationProfile alone (a
// dashboard): its resolver, the only one that runs before any other, settles the caller's
// account itself (in the statement of the profile and its page, or with Learner.Ensure before
// reading anything else), so authentication leaves it unset.
func identifiedByScreen(oc *graphql.OperationContext) bool {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query || len(oc.Operation.SelectionSet) != 1 {
		return false
	}
	f, ok := oc.Operation.SelectionSet[0].(*ast.Field)
	return ok && f.Name == "certificationProfile" && len(f.Directives) == 0
}

// identify makes sure the caller's account is settled (Learner.Ensure) when authentication
// left it to this operation's root field (identifiedByScreen).
func (r *Resolver) identify(ctx context.Context) error {
	p := auth.PrincipalFrom(ctx)
	if p == nil || p.AccountID != uuid.Nil {
		return nil
	}
	a, lp, err := r.Learner.Ensure(ctx, p)
	if err != nil {
		return err
	}
	PrimeCaller(ctx, a, lp)
	return nil
}
