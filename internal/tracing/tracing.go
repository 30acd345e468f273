// Package tracing is the server's OpenTelemetry tracing: a tracer provider configured by the
// standard OTEL_* environment variables and exporting over OTLP/HTTP, and the instrumentation
// that uses it: a span per HTTP request (continuing the trace of an incoming traceparent, whose
// sampled flag counts only when trusted: see Sampler), per GraphQL operation (operation type
// and name, never variables or the document), per SQL statement (statement text, never
// parameters), plus a slog handler that writes the trace and span ids into every log line
// written with the request's context.
//
// Without an endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), or
// with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, tracing is off: the provider is the
// no-op one and every wrapper here returns what it was given, so the hot path is as without
// tracing. A nil *Tracing is off too.
package tracing

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is service.name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES set one.
const ServiceName = "recert"

// instrumentation names the tracer of the spans this package and the workers start.
const instrumentation = "github.com/recert/recert"

// Tracing is the process's tracing: on (an SDK provider exporting over OTLP/HTTP) or off.
type Tracing struct {
	provider   trace.TracerProvider
	sdk        *sdktrace.TracerProvider // nil when off
	propagator propagation.TextMapPropagator
}

// Off is tracing turned off.
func Off() *Tracing { return nil }

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.sdk != nil }

// Provider is the tracer provider (the no-op one when off).
func (t *Tracing) Provider() trace.TracerProvider {
	if !t.Enabled() {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// Tracer is the tracer of the server's own spans (GraphQL operations, outbox sends, reminder
// passes).
func (t *Tracing) Tracer() trace.Tracer { return t.Provider().Tracer(instrumentation) }

// Configured reports whether the environment (lookup, as os.LookupEnv) turns tracing on: an
// OTLP endpoint is set, and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none.
func Configured(lookup func(string) (string, bool)) bool {
	if strings.EqualFold(env(lookup, "OTEL_SDK_DISABLED"), "true") {
		return false
	}
	if strings.EqualFold(env(lookup, "OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return env(lookup, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || env(lookup, "OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// Setup builds the tracing the process environment configures (Configured with os.LookupEnv).
// When on, the exporter and the batch span processor read the rest of the standard variables
// themselves (OTEL_EXPORTER_OTLP_* headers, timeout, compression and certificates; OTEL_BSP_*),
// and the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the sampler is Sampler's
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG and TrustRemoteParent) and the propagators
// Propagators' (OTEL_PROPAGATORS), both read through lookup; an invalid value of these is an
// error. Errors of the exporter (an unreachable collector) go to log as warnings; they never fail a
// request. Call Shutdown before exiting to flush the spans not yet sent.
func Setup(ctx context.Context, lookup func(string) (string, bool), log *slog.Logger) (*Tracing, error) {
	if !Configured(lookup) {
		return Off(), nil
	}
	sampler, err := Sampler(lookup)
	if err != nil {
		return nil, err
	}
	propagator, err := Propagators(lookup)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the defaults.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(ServiceName), semconv.ServiceVersion(version)),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, err
	}
	if log != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "error", err) }))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	return &Tracing{provider: tp, sdk: tp, propagator: propagator}, nil
}

// ForceFlush exports every span ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// Span starts a span named name under ctx's and returns its context and the function that ends
// it, recording a non-nil error as the span's error status (the shape of notify.Tracer). Off,
// it returns ctx and a no-op.
func (t *Tracing) Span(ctx context.Context, name string) (context.Context, func(error)) {
	if !t.Enabled() {
		return ctx, func(error) {}
	}
	ctx, span := t.Tracer().Start(ctx, name)
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
