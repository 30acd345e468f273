package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/recert/recert/internal/apperr"
)

// internalError marks a failure a resolver did not expect. Its details are logged, never sent.
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }

// RequestIDFunc reads the request id the HTTP layer assigned.
type RequestIDFunc func(ctx context.Context) string

// MarkInternal is a field middleware: any error a resolver returns that is not an apperr
// value is marked internal, so the presenter can tell it apart from gqlgen's own input errors.
func MarkInternal(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	return res, markInternal(err)
}

// markInternal is MarkInternal's rule for one error (nil stays nil).
func markInternal(err error) error {
	if err != nil {
		var ae *apperr.Error
		var gq *gqlerror.Error
		if !errors.As(err, &ae) && !errors.As(err, &gq) {
			err = &internalError{err: err}
		}
	}
	return err
}

// renamed maps gqlgen's own codes to the codes of docs/api.md.
var renamed = map[string]apperr.Code{
	"COMPLEXITY_LIMIT_EXCEEDED":     apperr.QueryTooComplex,
	"GRAPHQL_PARSE_FAILED":          apperr.BadUserInput,
	"GRAPHQL_VALIDATION_FAILED":     apperr.BadUserInput,
	"PERSISTED_QUERY_NOT_FOUND":     apperr.PersistedQueryNotFound,
	"PERSISTED_QUERY_NOT_SUPPORTED": apperr.BadUserInput,
}

// ErrorPresenter turns every failure into a GraphQL error with an docs/api.md code. apperr values
// go out as they are; gqlgen's parse, validation and coercion errors become BAD_USER_INPUT;
// a database that is unreachable or read-only becomes UNAVAILABLE (apperr.IsUnavailable);
// anything else becomes INTERNAL with a generic message and the request id, and is logged.
func ErrorPresenter(log *slog.Logger, requestID RequestIDFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			out := &gqlerror.Error{Message: ae.Message, Extensions: map[string]any{"code": string(ae.Code)}}
			for k, v := range ae.Extensions {
				out.Extensions[k] = v
			}
			if ae.Code == apperr.Internal {
				out.Extensions["requestId"] = requestID(ctx)
			}
			setPath(ctx, out, err)
			return out
		}
		var ie *internalError
		if errors.As(err, &ie) {
			return internal(ctx, log, requestID, err)
		}
		var gq *gqlerror.Error
		if errors.As(err, &gq) {
			code := apperr.BadUserInput
			if c, ok := gq.Extensions["code"].(string); ok {
				if r, ok := renamed[c]; ok {
					code = r
				}
			}
			out := &gqlerror.Error{Message: gq.Message, Path: gq.Path, Locations: gq.Locations,
				Extensions: map[string]any{"code": string(code)}}
			return out
		}
		return internal(ctx, log, requestID, err)
	}
}

func setPath(ctx context.Context, out *gqlerror.Error, err error) {
	var gq *gqlerror.Error
	if errors.As(err, &gq) && gq.Path != nil {
		out.Path, out.Locations = gq.Path, gq.Locations
		return
	}
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		out.Path = fc.Path()
	}
}

func internal(ctx context.Context, log *slog.Logger, requestID RequestIDFunc, err error) *gqlerror.Error {
	id := requestID(ctx)
	if apperr.IsUnavailable(err) {
		// The database is unreachable or read-only (a failover): a retryable UNAVAILABLE,
		// logged as a warning, never INTERNAL and never the driver's text.
		log.WarnContext(ctx, "database unavailable", "request_id", id, "error", err.Error())
		ae := apperr.UnavailableError()
		out := &gqlerror.Error{Message: ae.Message, Extensions: map[string]any{"code": string(ae.Code)}}
		for k, v := range ae.Extensions {
			out.Extensions[k] = v
		}
		setPath(ctx, out, err)
		return out
	}
	log.ErrorContext(ctx, "internal error", "request_id", id, "error", err.Error())
	out := &gqlerror.Error{
		Message:    "internal error; quote request id " + id + " to support",
		Extensions: map[string]any{"code": string(apperr.Internal), "requestId": id},
	}
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		out.Path = fc.Path()
	}
	return out
}

// Recover turns a panic in a resolver into an internal error, logging the stack.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return &internalError{err: fmt.Errorf("panic: %v", p)}
	}
}
