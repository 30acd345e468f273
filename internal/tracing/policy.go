package tracing

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TrustRemoteParent is Recert's own variable (not one of the OpenTelemetry specification's):
// "true" honours the sampled flag of an incoming trace context (traceparent, or what
// OTEL_PROPAGATORS extracts). Set it only when a gateway in front of the server sets or strips
// that header itself; by default ("false") any caller could send a sampled flag and have its
// requests recorded and exported whatever the configured sampler says.
const TrustRemoteParent = "OTEL_TRACES_TRUST_REMOTE_PARENT"

// Propagators reads OTEL_PROPAGATORS: a comma-separated list of the names the OpenTelemetry Go
// contrib autoprop package knows (tracecontext, baggage, b3, b3multi, jaeger, xray, ottrace,
// none). Unset or empty it is "tracecontext,baggage". An unknown name is an error.
func Propagators(lookup func(string) (string, bool)) (propagation.TextMapPropagator, error) {
	v := env(lookup, "OTEL_PROPAGATORS")
	if v == "" {
		v = "tracecontext,baggage"
	}
	var names []string
	for n := range strings.SplitSeq(v, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			names = append(names, n)
		}
	}
	p, err := autoprop.TextMapPropagator(names...)
	if err != nil {
		return nil, fmt.Errorf("OTEL_PROPAGATORS=%q: %w (known: tracecontext, baggage, b3, b3multi, jaeger, xray, ottrace, none)", v, err)
	}
	return p, nil
}

// Sampler builds the sampler that OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG configure
// (the specification's always_on, always_off, traceidratio and their parentbased_ forms;
// default parentbased_always_on), with this policy for a span whose parent came from the
// caller (a remote parent):
//
//   - untrusted (the default): the incoming trace id is kept, so the caller's trace and the
//     server's log lines still correlate, but the caller's sampled flag is ignored: the
//     configured sampler decides as for a request without a parent. A ratio is then drawn at
//     random rather than read off the trace id, which the caller chose.
//   - trusted (TrustRemoteParent=true): the SDK's behaviour, a parentbased_ sampler follows
//     the caller's flag.
//
// Spans under a local parent (the operation and SQL spans of a request) follow their parent.
// Unknown sampler names, a ratio that is not a number in [0, 1] and a TrustRemoteParent that
// is not true or false are errors (the SDK alone would fall back to its default silently).
func Sampler(lookup func(string) (string, bool)) (sdktrace.Sampler, error) {
	name := strings.ToLower(env(lookup, "OTEL_TRACES_SAMPLER"))
	if name == "" {
		name = "parentbased_always_on"
	}
	trust, err := parseBool(env(lookup, TrustRemoteParent))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", TrustRemoteParent, err)
	}
	base, parentBased := strings.CutPrefix(name, "parentbased_")
	var root, untrusted sdktrace.Sampler
	switch base {
	case "always_on":
		root, untrusted = sdktrace.AlwaysSample(), sdktrace.AlwaysSample()
	case "always_off":
		root, untrusted = sdktrace.NeverSample(), sdktrace.NeverSample()
	case "traceidratio":
		ratio := 1.0
		if arg := env(lookup, "OTEL_TRACES_SAMPLER_ARG"); arg != "" {
			ratio, err = strconv.ParseFloat(arg, 64)
			if err != nil || !(ratio >= 0 && ratio <= 1) {
				return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", arg)
			}
		}
		root, untrusted = sdktrace.TraceIDRatioBased(ratio), drawnRatio(ratio)
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio or their parentbased_ forms", name)
	}
	var opts []sdktrace.ParentBasedSamplerOption
	if !parentBased {
		// The root sampler decides a remote parent's span whatever the flag says. A local
		// parent is followed: for these samplers that is the decision the root sampler would
		// take on the same trace id, and it keeps a drawn decision (below) whole.
		opts = append(opts, sdktrace.WithRemoteParentSampled(root), sdktrace.WithRemoteParentNotSampled(root))
	}
	if !trust { // later options win
		opts = append(opts, sdktrace.WithRemoteParentSampled(untrusted), sdktrace.WithRemoteParentNotSampled(untrusted))
	}
	return sdktrace.ParentBased(root, opts...), nil
}

func env(lookup func(string) (string, bool), key string) string {
	v, _ := lookup(key)
	return strings.TrimSpace(v)
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("%q: want true or false", v)
}

// drawnRatio samples the fraction ratio of the spans it is asked about by a random draw of its
// own. The SDK's TraceIDRatioBased reads the draw off the trace id, which is right for trace ids
// the server generates but lets a caller who picks its own trace id (one ending in zeros) be
// sampled every time.
func drawnRatio(ratio float64) sdktrace.Sampler {
	switch {
	case ratio >= 1:
		return sdktrace.AlwaysSample()
	case ratio <= 0:
		return sdktrace.NeverSample()
	}
	return drawn{bound: uint64(ratio * (1 << 63)), desc: fmt.Sprintf("DrawnRatio{%g}", ratio)}
}

type drawn struct {
	bound uint64
	desc  string
}

func (s drawn) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	d := sdktrace.Drop
	if rand.Uint64()>>1 < s.bound {
		d = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: d, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (s drawn) Description() string { return s.desc }
