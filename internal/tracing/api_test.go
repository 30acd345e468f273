package tracing_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/recert/recert/graph/app"
	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/postgres/pgtest"
	"github.com/recert/recert/internal/tracing"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// collector is a fake OTLP/HTTP receiver: it accepts POST /v1/traces with a protobuf
// ExportTraceServiceRequest and keeps the spans.
type collector struct {
	discard bool // count the spans only
	n       int
	mu      sync.Mutex
	spans   []*tracepb.Span
	bad     []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
		c.bad = append(c.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.n += len(ss.Spans)
			if !c.discard {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
	}
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// take returns the spans received so far and forgets them.
func (c *collector) take(t *testing.T) []*tracepb.Span {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) > 0 {
		t.Fatalf("the exporter sent requests the collector refused: %v", c.bad)
	}
	s := c.spans
	c.spans = nil
	return s
}

// syncBuffer collects log lines written from the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

const (
	incomingTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingParent = "00f067aa0ba902b7"
)

const dashboardQuery = `query Dashboard($mcid: String!) {
  certificationProfile(mcid: $mcid) {
    mcid legalName
    certifications(first: 20) { totalCount nodes { id status certification { code } renewal { eligible } } }
  }
}`

const mergeQuery = `mutation MergeProfiles($in: MergeCertificationProfilesInput!) {
  mergeCertificationProfiles(input: $in) { survivor { mcid } duplicate { status } } }`

// One dashboard request and one merge, through the API with tracing configured by the OTEL_*
// variables and exported to a fake collector: each is one trace, the HTTP server span
// continuing the incoming traceparent, the GraphQL operation span under it with the operation's
// name and type, and SQL spans with the statement text; no span holds a variable or an SQL
// parameter. The request's log line carries the trace id.
func TestSpansOfADashboardRequestAndAMerge(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close) // after the provider's shutdown below
	tr := setup(t, srv.URL)
	ctx := context.Background()
	logs := &syncBuffer{}
	env := apitest.New(t, apitest.WithTracing(tr), apitest.WithDeps(func(d *app.Deps) {
		d.Log = slog.New(tr.LogHandler(slog.NewJSONHandler(logs, nil)))
	}))

	learner := apitest.Learner("traced")
	first := createProfile(t, env, learner, "Traced First")
	second := createProfile(t, env, apitest.Learner("traced-again"), "Traced Second")
	env.MustDo(learner, `mutation($in: LinkCertificationProfileInput!) { linkCertificationProfile(input: $in) {
  certificationProfile { id } } }`, map[string]any{"in": map[string]any{"certificationProfileId": first.ID}}, nil)
	addEarned(t, env, first.MCID)
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	col.take(t) // the set-up requests' spans

	// The dashboard, called inside the caller's trace.
	req := graphQLRequest(t, env, learner, dashboardQuery, map[string]any{"mcid": first.MCID})
	req.Header.Set("traceparent", "00-"+incomingTrace+"-"+incomingParent+"-01")
	resp := env.Send(req)
	if len(resp.Errors) > 0 || !bytes.Contains(resp.Data, []byte(`"totalCount":3`)) {
		t.Fatalf("dashboard: %s", resp.Raw)
	}
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := col.take(t)
	t.Logf("dashboard spans: %v", describe(spans))
	httpSpan, _, sqlSpans := checkTrace(t, spans, "query Dashboard", "query", "Dashboard", "POST /graphql")
	if hex.EncodeToString(httpSpan.TraceId) != incomingTrace || hex.EncodeToString(httpSpan.ParentSpanId) != incomingParent {
		t.Errorf("HTTP span: trace %x parent %x, want the incoming traceparent's %s and %s",
			httpSpan.TraceId, httpSpan.ParentSpanId, incomingTrace, incomingParent)
	}
	if !anyStatement(sqlSpans, "certification_profiles") {
		t.Errorf("no SQL span has the dashboard's statement on certification_profiles: %v", statements(sqlSpans))
	}
	noValues(t, spans, first.MCID, learner.Email, learner.Subject)

	// The request's log line carries the trace and the span it was written in.
	var found bool
	for _, l := range logs.lines() {
		if l["msg"] == "request" && l["trace_id"] == incomingTrace {
			found = true
			if sid, _ := l["span_id"].(string); sid != hex.EncodeToString(httpSpan.SpanId) {
				t.Errorf("request log span_id %q, want the HTTP span's %x", sid, httpSpan.SpanId)
			}
		}
	}
	if !found {
		t.Errorf("no request log line with trace_id %s:\n%v", incomingTrace, logs.lines())
	}

	// A GET carries the variables in the query string: they stay out of the spans too.
	get := httptest.NewRequest(http.MethodGet, "/graphql?"+url.Values{
		"query": {dashboardQuery}, "variables": {`{"mcid":"` + first.MCID + `"}`}}.Encode(), nil)
	get.Header.Set("Authorization", "Bearer "+env.Token(learner))
	if resp := env.Send(get); len(resp.Errors) > 0 {
		t.Fatalf("dashboard by GET: %s", resp.Raw)
	}
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans = col.take(t)
	checkTrace(t, spans, "query Dashboard", "query", "Dashboard", "GET /graphql")
	noValues(t, spans, first.MCID, learner.Email, learner.Subject)

	// A merge by support, in a trace of its own.
	const reason, key = "same person registered twice", "trace-merge-key-7"
	req = graphQLRequest(t, env, apitest.Support("agent"), mergeQuery, map[string]any{"in": map[string]any{
		"survivorId": first.ID, "duplicateId": second.ID, "reason": reason, "idempotencyKey": key}})
	if resp := env.Send(req); len(resp.Errors) > 0 || !bytes.Contains(resp.Data, []byte(`"MERGED"`)) {
		t.Fatalf("merge: %s", resp.Raw)
	}
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans = col.take(t)
	t.Logf("merge spans: %v", describe(spans))
	httpSpan, _, sqlSpans = checkTrace(t, spans, "mutation MergeProfiles", "mutation", "MergeProfiles", "POST /graphql")
	if len(httpSpan.ParentSpanId) != 0 {
		t.Errorf("merge HTTP span has parent %x, want a new trace", httpSpan.ParentSpanId)
	}
	if !anyStatement(sqlSpans, "UPDATE certification_profiles") {
		t.Errorf("no SQL span has the merge's UPDATE of certification_profiles: %v", statements(sqlSpans))
	}
	noValues(t, spans, reason, key, first.MCID, second.MCID)
}

// setup turns tracing on through the OTEL_* variables, exporting to the collector at url, and
// shuts it down when t ends.
func setup(t testing.TB, url string) *tracing.Tracing {
	t.Helper()
	return setupWith(t, url, nil)
}

// setupWith is setup with the variables of env set on top of setup's.
func setupWith(t testing.TB, url string, env map[string]string) *tracing.Tracing {
	t.Helper()
	t.Setenv("OTEL_SDK_DISABLED", "false")
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "")
	t.Setenv(tracing.TrustRemoteParent, "")
	t.Setenv("OTEL_PROPAGATORS", "")
	t.Setenv("OTEL_SERVICE_NAME", "recert-test")
	for k, v := range env {
		t.Setenv(k, v)
	}
	tr, err := tracing.Setup(context.Background(), os.LookupEnv, nil)
	if err != nil || !tr.Enabled() {
		t.Fatalf("Setup: %v, enabled %v; want tracing on", err, tr.Enabled())
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

// BenchmarkDashboard runs one dashboard request through the whole handler with tracing off
// (as without OTEL_* variables) and on (every request sampled and exported to a collector):
// the cost of tracing, spans per request included.
func BenchmarkDashboard(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			col := &collector{discard: true}
			tr := tracing.Off()
			if on {
				srv := httptest.NewServer(col)
				b.Cleanup(srv.Close)
				tr = setup(b, srv.URL)
			}
			env := apitest.New(b, apitest.WithTracing(tr))
			id := apitest.Learner("bench-" + name)
			p := createProfile(b, env, id, "Bench "+name)
			env.MustDo(id, `mutation($in: LinkCertificationProfileInput!) { linkCertificationProfile(input: $in) {
  certificationProfile { id } } }`, map[string]any{"in": map[string]any{"certificationProfileId": p.ID}}, nil)
			addEarned(b, env, p.MCID)
			vars := map[string]any{"mcid": p.MCID}
			env.MustDo(id, dashboardQuery, vars, nil)
			b.ReportAllocs()
			for b.Loop() {
				if r := env.Do(id, dashboardQuery, vars); len(r.Errors) > 0 {
					b.Fatalf("errors: %s", r.Raw)
				}
			}
			b.StopTimer()
			if err := tr.ForceFlush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(col.n)/float64(b.N), "spans/op")
		})
	}
}

// addEarned gives the profile three earned certifications.
func addEarned(t testing.TB, env *apitest.Env, mcid string) {
	t.Helper()
	if _, err := env.DB.Exec(`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, DATE '2020-06-01', DATE '2021-06-01', TIMESTAMPTZ '2020-06-01Z'
FROM certification_profiles p, (SELECT id FROM certifications WHERE level <> 'FUNDAMENTALS' ORDER BY code LIMIT 3) c
WHERE p.mcid = $1::bigint`, mcid); err != nil {
		t.Fatalf("earned certifications: %v", err)
	}
}

// checkTrace checks that spans are one trace: one HTTP server span named httpName at its root, one operation span under it named opName with the operation's type and name, and SQL
// spans with statement text, at least one of them under the operation span.
func checkTrace(t *testing.T, spans []*tracepb.Span, opName, opType, name, httpName string) (httpSpan, op *tracepb.Span, sqls []*tracepb.Span) {
	t.Helper()
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.SpanId)] = s
		if !bytes.Equal(s.TraceId, spans[0].TraceId) {
			t.Errorf("span %q is in trace %x, want all in %x", s.Name, s.TraceId, spans[0].TraceId)
		}
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_SERVER:
			if httpSpan != nil {
				t.Errorf("two server spans: %q and %q", httpSpan.Name, s.Name)
			}
			httpSpan = s
		case s.Name == opName:
			op = s
		case attr(s, "db.query.text") != "":
			sqls = append(sqls, s)
		}
	}
	if httpSpan == nil || op == nil || len(sqls) == 0 {
		t.Fatalf("got spans %v, want an HTTP server span, %q and SQL spans", names(spans), opName)
	}
	if method, _, _ := strings.Cut(httpName, " "); httpSpan.Name != httpName || attr(httpSpan, "http.request.method") != method {
		t.Errorf("HTTP span %q method %q, want %q", httpSpan.Name, attr(httpSpan, "http.request.method"), httpName)
	}
	if !bytes.Equal(op.ParentSpanId, httpSpan.SpanId) {
		t.Errorf("operation span's parent is %x, want the HTTP span %x", op.ParentSpanId, httpSpan.SpanId)
	}
	if attr(op, "graphql.operation.type") != opType || attr(op, "graphql.operation.name") != name {
		t.Errorf("operation span attributes %v, want type %s and name %s", op.Attributes, opType, name)
	}
	under := 0
	for _, s := range sqls {
		for p := byID[string(s.ParentSpanId)]; p != nil; p = byID[string(p.ParentSpanId)] {
			if p == op {
				under++
				break
			}
		}
	}
	if under == 0 {
		t.Errorf("no SQL span under the operation span; spans: %v", names(spans))
	}
	return httpSpan, op, sqls
}

// noValues fails when any attribute, event or status of spans contains one of values (the
// request's variables, which are also the statements' parameters).
func noValues(t *testing.T, spans []*tracepb.Span, values ...string) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name, s.Status.GetMessage()}
		kvs := append([]*commonpb.KeyValue(nil), s.Attributes...)
		for _, e := range s.Events {
			texts = append(texts, e.Name)
			kvs = append(kvs, e.Attributes...)
		}
		for _, kv := range kvs {
			texts = append(texts, kv.Key+"="+kv.Value.String())
		}
		for _, text := range texts {
			for _, v := range values {
				if strings.Contains(text, v) {
					t.Errorf("span %q records %q: %s", s.Name, v, text)
				}
			}
		}
	}
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

func anyStatement(spans []*tracepb.Span, fragment string) bool {
	for _, s := range spans {
		if strings.Contains(attr(s, "db.query.text"), fragment) {
			return true
		}
	}
	return false
}

func statements(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, attr(s, "db.query.text"))
	}
	return out
}

func describe(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		d := s.Name
		if q := attr(s, "db.query.text"); q != "" {
			d += ": " + strings.Join(strings.Fields(q), " ")[:min(60, len(strings.Join(strings.Fields(q), " ")))]
		}
		out = append(out, d)
	}
	return out
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

type profileRef struct{ ID, MCID string }

func createProfile(t testing.TB, env *apitest.Env, owner apitest.Identity, name string) profileRef {
	t.Helper()
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile profileRef }
	}
	env.MustDo(owner, `mutation($in: CreateCertificationProfileInput!) {
		createCertificationProfile(input: $in) { certificationProfile { id mcid } } }`,
		map[string]any{"in": map[string]any{"legalName": name, "email": owner.Email}}, &out)
	return out.CreateCertificationProfile.CertificationProfile
}

func graphQLRequest(t *testing.T, env *apitest.Env, id apitest.Identity, query string, vars map[string]any) *http.Request {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+env.Token(id))
	return req
}
