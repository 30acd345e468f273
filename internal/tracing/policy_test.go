package tracing_test

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/tracing"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// traced is a server with tracing set up by setupWith(env), exporting to a fake collector,
// and its JSON log lines.
type traced struct {
	t    *testing.T
	tr   *tracing.Tracing
	col  *collector
	logs *syncBuffer
	env  *apitest.Env
}

func newTraced(t *testing.T, env map[string]string) *traced {
	t.Helper()
	col := &collector{}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close) // after the provider's shutdown
	tr := setupWith(t, srv.URL, env)
	logs := &syncBuffer{}
	api := apitest.New(t, apitest.WithTracing(tr), apitest.WithDeps(func(d *app.Deps) {
		d.Log = slog.New(tr.LogHandler(slog.NewJSONHandler(logs, nil)))
	}))
	return &traced{t: t, tr: tr, col: col, logs: logs, env: api}
}

// send makes one anonymous catalog request with the headers given (name, value, ...) and
// returns the spans it exported.
func (s *traced) send(header ...string) []*tracepb.Span {
	s.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql",
		strings.NewReader(`{"query":"query Catalog { certifications(first: 1) { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if resp := s.env.Send(req); len(resp.Errors) > 0 || !strings.Contains(string(resp.Data), "totalCount") {
		s.t.Fatalf("catalog request: %s", resp.Raw)
	}
	if err := s.tr.ForceFlush(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	return s.col.take(s.t)
}

// requestLogTraces lists the trace_id of every "request" log line so far.
func (s *traced) requestLogTraces() []string {
	var out []string
	for _, l := range s.logs.lines() {
		if l["msg"] == "request" {
			id, _ := l["trace_id"].(string)
			out = append(out, id)
		}
	}
	return out
}

// serverSpan returns the HTTP server span of spans, failing when there is none.
func serverSpan(t *testing.T, spans []*tracepb.Span) *tracepb.Span {
	t.Helper()
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			return s
		}
	}
	t.Fatalf("no HTTP server span among %v", names(spans))
	return nil
}

// continues fails unless span joins the trace incomingTrace under incomingParent.
func continues(t *testing.T, span *tracepb.Span) {
	t.Helper()
	if hex.EncodeToString(span.TraceId) != incomingTrace || hex.EncodeToString(span.ParentSpanId) != incomingParent {
		t.Errorf("HTTP span: trace %x parent %x, want the incoming %s and %s", span.TraceId, span.ParentSpanId, incomingTrace, incomingParent)
	}
}

func traceparent(traceID, flags string) []string {
	return []string{"traceparent", "00-" + traceID + "-" + incomingParent + "-" + flags}
}

// With a sampling ratio of 0 and the remote parent not trusted (the default), a request that
// arrives with a sampled traceparent is not recorded: no span reaches the collector. Its log
// line still carries the caller's trace id. With OTEL_TRACES_TRUST_REMOTE_PARENT=true the same
// request is sampled and continues the caller's trace.
func TestAnUntrustedSampledTraceparentDoesNotForceSampling(t *testing.T) {
	ratio0 := map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}

	s := newTraced(t, ratio0)
	if spans := s.send(traceparent(incomingTrace, "01")...); len(spans) != 0 {
		t.Errorf("untrusted sampled traceparent at ratio 0 exported %d spans: %v", len(spans), names(spans))
	}
	if got := s.requestLogTraces(); !slices.Equal(got, []string{incomingTrace}) {
		t.Errorf("request log lines carry trace ids %q, want the incoming %s", got, incomingTrace)
	}

	trusting := map[string]string{tracing.TrustRemoteParent: "true"}
	for k, v := range ratio0 {
		trusting[k] = v
	}
	s = newTraced(t, trusting)
	spans := s.send(traceparent(incomingTrace, "01")...)
	continues(t, serverSpan(t, spans))
	checkTrace(t, spans, "query Catalog", "query", "Catalog", "POST /graphql")
	// Trusted, an unsampled flag is followed too.
	if spans := s.send(traceparent(incomingTrace, "00")...); len(spans) != 0 {
		t.Errorf("trusted unsampled traceparent exported %d spans: %v", len(spans), names(spans))
	}
}

// With a ratio of 1 an untrusted request is sampled whatever its flag says, in the caller's
// trace; without a traceparent it starts a trace of its own.
func TestRatioOneSamplesUntrustedRequestsEitherWay(t *testing.T) {
	s := newTraced(t, map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"})
	for _, flags := range []string{"01", "00"} {
		spans := s.send(traceparent(incomingTrace, flags)...)
		if len(spans) == 0 {
			t.Errorf("flags %s: no span exported at ratio 1", flags)
			continue
		}
		continues(t, serverSpan(t, spans))
	}
	if root := serverSpan(t, s.send()); len(root.ParentSpanId) != 0 || hex.EncodeToString(root.TraceId) == incomingTrace {
		t.Errorf("request without traceparent: trace %x parent %x, want a new trace", root.TraceId, root.ParentSpanId)
	}
}

// The SDK's ratio sampler reads its draw off the trace id, which an untrusted caller picks: a
// trace id ending in zeros would pass any ratio above 0. For untrusted remote parents the
// server draws its own number, so at a tiny ratio such a request is not sampled, whatever its
// flag.
func TestAChosenTraceIDDoesNotPassTheRatio(t *testing.T) {
	s := newTraced(t, map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.000000001"})
	const lowTrace = "4bf92f3577b34da60000000000000000"
	for _, flags := range []string{"01", "00"} {
		if spans := s.send(traceparent(lowTrace, flags)...); len(spans) != 0 {
			t.Errorf("flags %s: a trace id ending in zeros was sampled at ratio 1e-9: %v", flags, names(spans))
		}
	}
	if got := s.requestLogTraces(); !slices.Equal(got, []string{lowTrace, lowTrace}) {
		t.Errorf("request log lines carry trace ids %q, want the incoming %s twice", got, lowTrace)
	}
}

// OTEL_PROPAGATORS=b3 extracts the caller's trace from a b3 header (and no longer from
// traceparent).
func TestPropagatorsB3(t *testing.T) {
	s := newTraced(t, map[string]string{"OTEL_PROPAGATORS": "b3"})
	continues(t, serverSpan(t, s.send("b3", incomingTrace+"-"+incomingParent+"-1")))
	if root := serverSpan(t, s.send(traceparent(incomingTrace, "01")...)); len(root.ParentSpanId) != 0 {
		t.Errorf("with b3 only, a traceparent was continued: parent %x", root.ParentSpanId)
	}
}

// Setup refuses, with the variable's name in the error, an unknown propagator or sampler, a
// ratio that is not one, and a trust setting other than true or false; the defaults and the
// standard values start.
func TestSetupRefusesInvalidPolicy(t *testing.T) {
	for _, c := range []struct {
		key, value string
		ok         bool
	}{
		{"OTEL_PROPAGATORS", "tracecontext,bogus", false},
		{"OTEL_PROPAGATORS", "zipkin", false},
		{"OTEL_PROPAGATORS", "b3multi, jaeger ,xray,ottrace,tracecontext,baggage", true},
		{"OTEL_PROPAGATORS", "none", true},
		{"OTEL_TRACES_SAMPLER", "jaeger_remote", false},
		{"OTEL_TRACES_SAMPLER", "always_off", true},
		{"OTEL_TRACES_SAMPLER_ARG", "half", false},
		{"OTEL_TRACES_SAMPLER_ARG", "1.5", false},
		{"OTEL_TRACES_SAMPLER_ARG", "NaN", false},
		{"OTEL_TRACES_SAMPLER_ARG", "0.25", true},
		{tracing.TrustRemoteParent, "yes", false},
		{tracing.TrustRemoteParent, "TRUE", true},
	} {
		env := map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
			c.key: c.value,
		}
		tr, err := tracing.Setup(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s=%q: %v", c.key, c.value, err)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), c.key)):
			t.Errorf("%s=%q: got error %v, want one naming %s", c.key, c.value, err, c.key)
		}
		if err == nil {
			_ = tr.Shutdown(context.Background())
		}
	}
}

// Without OTEL_PROPAGATORS the propagators are the W3C trace context and baggage, as before.
func TestDefaultPropagators(t *testing.T) {
	p, err := tracing.Propagators(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	// The composite propagator lists its fields in no particular order.
	got := slices.Sorted(slices.Values(p.Fields()))
	if !slices.Equal(got, []string{"baggage", "traceparent", "tracestate"}) {
		t.Errorf("default propagators read %v, want traceparent, tracestate and baggage", got)
	}
}
