package tracing

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
)

// HTTP wraps next in a server span per request, named after the method and the path
// ("POST /graphql"), continuing the trace of an incoming traceparent header. /healthz and
// /readyz get no span. Off, it returns next itself.
func (t *Tracing) HTTP(next http.Handler) http.Handler {
	if !t.Enabled() {
		return next
	}
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()), // the server's metrics are Prometheus's
		otelhttp.WithFilter(func(r *http.Request) bool {
			return r.URL.Path != "/healthz" && r.URL.Path != "/readyz"
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			switch r.URL.Path {
			case "/graphql", "/":
				return r.Method + " " + r.URL.Path
			}
			return r.Method // unknown paths stay out of span names
		}),
	)
}
