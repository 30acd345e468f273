package tracing_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/recert/recert/internal/tracing"
)

// Tracing is on only with an OTLP endpoint, and OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none turn it off.
func TestConfigured(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_SERVICE_NAME": "recert"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "false"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		if got := tracing.Configured(lookup); got != c.want {
			t.Errorf("%v: got %v, want %v", c.env, got, c.want)
		}
	}
}

type handler struct{}

func (*handler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Off, tracing installs nothing: the HTTP handler and the log handler come back as they were,
// there is no GraphQL extension, and spans are no-ops.
func TestOffInstallsNothing(t *testing.T) {
	tr, err := tracing.Setup(context.Background(), func(string) (string, bool) { return "", false }, nil)
	if err != nil || tr.Enabled() {
		t.Fatalf("got %v, enabled %v; want off", err, tr.Enabled())
	}
	h := &handler{}
	if got, ok := tr.HTTP(h).(*handler); !ok || got != h {
		t.Errorf("HTTP wrapped the handler: %T", tr.HTTP(h))
	}
	lh := slog.NewTextHandler(io.Discard, nil)
	if got, ok := tr.LogHandler(lh).(*slog.TextHandler); !ok || got != lh {
		t.Errorf("LogHandler wrapped the handler: %T", tr.LogHandler(lh))
	}
	if ext := tr.GraphQL(); ext != nil {
		t.Errorf("GraphQL returned %T, want nil", ext)
	}
	ctx := context.Background()
	if got, end := tr.Span(ctx, "x"); got != ctx {
		t.Error("Span changed the context")
	} else {
		end(nil)
	}
	if err := tr.ForceFlush(ctx); err != nil {
		t.Error(err)
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Error(err)
	}
}
