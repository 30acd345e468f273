package tracing

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL returns the gqlgen extension that runs each operation's execution in a span named
// "<type> <name>" ("query Dashboard", or just the type for an anonymous operation), with the
// graphql.operation.type and graphql.operation.name attributes and, when the response has
// errors, their extensions.code values in recert.graphql.error_codes and an error status.
// Variables and the document are never recorded. Off, it returns nil (install nothing).
func (t *Tracing) GraphQL() graphql.HandlerExtension {
	if !t.Enabled() {
		return nil
	}
	return operationSpans{tracer: t.Tracer()}
}

type operationSpans struct{ tracer trace.Tracer }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationSpans{}

func (operationSpans) ExtensionName() string                   { return "RecertTracing" }
func (operationSpans) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationSpans) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	typ, name := "", oc.OperationName
	if oc.Operation != nil {
		typ, name = string(oc.Operation.Operation), oc.Operation.Name
	}
	spanName := strings.TrimSpace(typ + " " + name)
	if spanName == "" {
		spanName = "graphql"
	}
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", typ)}
	if name != "" {
		attrs = append(attrs, attribute.String("graphql.operation.name", name))
	}
	ctx, span := o.tracer.Start(ctx, spanName, trace.WithAttributes(attrs...))
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil {
			span.End() // the end of a subscription, or a deadline that passed
			return nil
		}
		if len(resp.Errors) > 0 {
			codeList := make([]string, 0, len(resp.Errors))
			for _, e := range resp.Errors {
				code, _ := e.Extensions["code"].(string)
				codeList = append(codeList, code)
			}
			span.SetAttributes(attribute.StringSlice("recert.graphql.error_codes", codeList))
			span.SetStatus(codes.Error, strings.Join(codeList, ","))
		}
		span.End()
		return resp
	}
}
