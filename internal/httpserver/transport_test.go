package httpserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

// request sends one raw HTTP request through the handler.
func request(env *apitest.Env, method, target, contentType, body string, header map[string]string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	return rec
}

func firstCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var resp struct{ Errors []apitest.Error }
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("decode (status %d): %v\n%s", rec.Code, err, rec.Body)
	}
	if len(resp.Errors) == 0 {
		return ""
	}
	return resp.Errors[0].Code()
}

const typename = `{"query":"{ __typename }"}`

// TestGraphQLOverHTTP checks status codes and media types against the GraphQL-over-HTTP spec.
func TestGraphQLOverHTTP(t *testing.T) {
	env := apitest.New(t)
	gqlResp := map[string]string{"Accept": "application/graphql-response+json"}
	jsonResp := map[string]string{"Accept": "application/json"}
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		header      map[string]string
		status      int
		media       string // response Content-Type prefix
		noData      bool   // no "data" entry
	}{
		{"POST application/json", "POST", "/graphql", "application/json", typename, jsonResp, 200, "application/json", false},
		{"POST with charset utf-8", "POST", "/graphql", "application/json; charset=utf-8", typename, nil, 200, "application/json", false},
		{"no Accept means application/json", "POST", "/graphql", "application/json", typename, nil, 200, "application/json", false},
		{"Accept */* means application/json", "POST", "/graphql", "application/json", typename, map[string]string{"Accept": "*/*"}, 200, "application/json", false},
		{"Accept graphql-response+json", "POST", "/graphql", "application/json", typename, gqlResp, 200, "application/graphql-response+json", false},
		{"q-values choose", "POST", "/graphql", "application/json", typename, map[string]string{"Accept": "application/json;q=0.5, application/graphql-response+json"}, 200, "application/graphql-response+json", false},
		{"unacceptable Accept is 406", "POST", "/graphql", "application/json", typename, map[string]string{"Accept": "text/html"}, 406, "text/plain", true},
		{"GET query", "GET", "/graphql?query=" + url.QueryEscape("{ __typename }"), "", "", nil, 200, "application/json", false},
		{"GET with variables", "GET", "/graphql?query=" + url.QueryEscape(`query($c: String!) { certification(code: $c) { code } }`) + "&variables=" + url.QueryEscape(`{"c":"azure-fundamentals"}`), "", "", nil, 200, "application/json", false},
		{"GET mutation is 405", "GET", "/graphql?query=" + url.QueryEscape(`mutation { createCertificationProfile(input: {legalName: "A", email: "a@b.c"}) { certificationProfile { mcid } } }`), "", "", gqlResp, 405, "application/graphql-response+json", true},
		{"PUT is 405", "PUT", "/graphql", "application/json", typename, nil, 405, "application/json", true},
		{"DELETE is 405", "DELETE", "/graphql", "", "", nil, 405, "application/json", true},
		{"no Content-Type is 415", "POST", "/graphql", "", typename, nil, 415, "application/json", true},
		{"text/plain is 415", "POST", "/graphql", "text/plain", typename, nil, 415, "application/json", true},
		{"form post is 415", "POST", "/graphql", "application/x-www-form-urlencoded", "query=%7B__typename%7D", nil, 415, "application/json", true},
		{"application/graphql is 415", "POST", "/graphql", "application/graphql", "{ __typename }", nil, 415, "application/json", true},
		{"latin-1 charset is 415", "POST", "/graphql", "application/json; charset=latin1", typename, nil, 415, "application/json", true},
		{"empty body is 400", "POST", "/graphql", "application/json", "", nil, 400, "application/json", true},
		{"unparsable JSON is 400", "POST", "/graphql", "application/json", `{ "not a JSON`, jsonResp, 400, "application/json", true},
		{"JSON that is not an object is 400", "POST", "/graphql", "application/json", `["{ __typename }"]`, nil, 400, "application/json", true},
		{"missing query is 400", "POST", "/graphql", "application/json", `{"qeury":"{ __typename }"}`, nil, 400, "application/json", true},
		{"query not a string is 400", "POST", "/graphql", "application/json", `{"query":{"obj":"ect"}}`, nil, 400, "application/json", true},
		{"operationName not a string is 400", "POST", "/graphql", "application/json", `{"query":"{ __typename }","operationName":0}`, nil, 400, "application/json", true},
		{"variables not an object is 400", "POST", "/graphql", "application/json", `{"query":"{ __typename }","variables":"string"}`, nil, 400, "application/json", true},
		{"extensions not an object is 400", "POST", "/graphql", "application/json", `{"query":"{ __typename }","extensions":["array"]}`, nil, 400, "application/json", true},
		{"null variables, operationName and extensions are fine", "POST", "/graphql", "application/json", `{"query":"{ __typename }","variables":null,"operationName":null,"extensions":null}`, nil, 200, "application/json", false},
		{"parse error with application/json is 200", "POST", "/graphql", "application/json", `{"query":"{"}`, jsonResp, 200, "application/json", true},
		{"parse error with graphql-response+json is 400", "POST", "/graphql", "application/json", `{"query":"{"}`, gqlResp, 400, "application/graphql-response+json", true},
		{"validation error with graphql-response+json is 400", "POST", "/graphql", "application/json", `{"query":"{ nope }"}`, gqlResp, 400, "application/graphql-response+json", true},
		{"variable coercion error with graphql-response+json is 400", "POST", "/graphql", "application/json", `{"query":"query($id: ID!) { __typename }","variables":{"id":null}}`, gqlResp, 400, "application/graphql-response+json", true},
		{"variable coercion error with application/json is 200", "POST", "/graphql", "application/json", `{"query":"query($id: ID!) { __typename }","variables":{"id":null}}`, jsonResp, 200, "application/json", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := request(env, tc.method, tc.target, tc.contentType, tc.body, tc.header)
			if rec.Code != tc.status {
				t.Fatalf("got status %d, want %d\n%s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.media) {
				t.Errorf("got Content-Type %q, want %s", ct, tc.media)
			}
			if tc.media != "text/plain" && !strings.Contains(rec.Header().Get("Content-Type"), "charset=utf-8") {
				t.Errorf("got Content-Type %q, want charset=utf-8", rec.Header().Get("Content-Type"))
			}
			hasData := bytes.Contains(rec.Body.Bytes(), []byte(`"data"`))
			if tc.noData && hasData {
				t.Errorf("got a data entry, want none: %s", rec.Body)
			}
			if !tc.noData && (!hasData || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`))) {
				t.Errorf("got %s, want data and no errors", rec.Body)
			}
			if tc.status == 405 && rec.Header().Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

func TestMultipartUploadIsRefused(t *testing.T) {
	env := apitest.New(t)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("operations", typename)
	_ = mw.WriteField("map", `{}`)
	_ = mw.Close()
	rec := request(env, "POST", "/graphql", mw.FormDataContentType(), body.String(), nil)
	if rec.Code != http.StatusUnsupportedMediaType || firstCode(t, rec) != "BAD_USER_INPUT" {
		t.Fatalf("got %d %s, want 415 BAD_USER_INPUT", rec.Code, rec.Body)
	}
}

func TestWebsocketUpgradeIsNotServed(t *testing.T) {
	env := apitest.New(t)
	rec := request(env, "GET", "/graphql", "", "", map[string]string{
		"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "graphql-transport-ws",
	})
	if rec.Code == http.StatusSwitchingProtocols || rec.Header().Get("Upgrade") != "" {
		t.Fatalf("got %d with Upgrade %q, want no websocket", rec.Code, rec.Header().Get("Upgrade"))
	}
}

// TestErrorsNeverEchoTheRequest sends malformed requests carrying a marker and checks that no
// response repeats it.
func TestErrorsNeverEchoTheRequest(t *testing.T) {
	env := apitest.New(t)
	const marker = "SECRET-MARKER-4711"
	bodies := []string{
		`{ "query": "{ __typename }", "x": "` + marker + `"`, // unterminated JSON
		`{"query":"{ __typename }","variables":"` + marker + `"}`,
		`{"query":"{ __typename }","extensions":{"persistedQuery":"` + marker + `"}}`,
		`{"query":"query($c: String!) { certification(code: $c) { code } }","variables":{"c":{"` + marker + `":1}}}`,
		`{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + marker + `"}}}`,
		`{"query":"{ __typename }",` + strings.Repeat(`"pad":"`+marker+`",`, 1) + `"operationName":7}`,
		`not json at all ` + marker,
	}
	for _, b := range bodies {
		rec := request(env, "POST", "/graphql", "application/json", b, nil)
		if rec.Code == http.StatusOK && firstCode(t, rec) == "" {
			t.Errorf("body %.60s: got 200 without errors, want refused", b)
		}
		if strings.Contains(rec.Body.String(), marker) {
			t.Errorf("response echoes the request: %s", rec.Body)
		}
	}
}

func TestBodyCap(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"MAX_BODY_BYTES": "4096"}))
	small := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 3000) + `"}}`
	if rec := request(env, "POST", "/graphql", "application/json", small, nil); rec.Code != 200 {
		t.Fatalf("body under the cap: got %d %s, want 200", rec.Code, rec.Body)
	}
	big := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 5000) + `"}}`
	if rec := request(env, "POST", "/graphql", "application/json", big, nil); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over the cap: got %d, want 413", rec.Code)
	}
	// Without Content-Length (chunked), reading stops at the cap.
	req := httptest.NewRequest("POST", "/graphql", io.MultiReader(strings.NewReader(big), neverEnding{}))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the cap: got %d, want 413", rec.Code)
	}
}

// neverEnding is an endless body: a server that read it in full would never answer.
type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestCORS(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"CORS_ORIGINS": "https://app.recert.example, https://support.recert.example"}))
	preflight := func(origin, method, headers string) *httptest.ResponseRecorder {
		return request(env, "OPTIONS", "/graphql", "", "", map[string]string{
			"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers,
		})
	}
	rec := preflight("https://app.recert.example", "POST", "authorization, content-type")
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.recert.example" {
		t.Fatalf("allowed preflight: got %d %v", rec.Code, rec.Header())
	}
	if !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "authorization") ||
		rec.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("allowed preflight headers: %v", rec.Header())
	}
	for name, r := range map[string]*httptest.ResponseRecorder{
		"foreign origin":      preflight("https://evil.example", "POST", "content-type"),
		"origin prefix trick": preflight("https://app.recert.example.evil.example", "POST", "content-type"),
		"null origin":         preflight("null", "POST", "content-type"),
		"method not allowed":  preflight("https://app.recert.example", "DELETE", ""),
		"header not allowed":  preflight("https://app.recert.example", "POST", "x-evil"),
	} {
		if r.Code != http.StatusForbidden || r.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: got %d with ACAO %q, want 403 without", name, r.Code, r.Header().Get("Access-Control-Allow-Origin"))
		}
	}
	rec = request(env, "POST", "/graphql", "application/json", typename, map[string]string{"Origin": "https://support.recert.example"})
	if rec.Header().Get("Access-Control-Allow-Origin") != "https://support.recert.example" || !strings.Contains(rec.Header().Get("Vary"), "Origin") {
		t.Errorf("allowed request: got headers %v", rec.Header())
	}
	rec = request(env, "POST", "/graphql", "application/json", typename, map[string]string{"Origin": "https://evil.example"})
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign request: got ACAO %q, want none", rec.Header().Get("Access-Control-Allow-Origin"))
	}
}

// production is the environment of a production server in tests (the database and JWKS URL
// are only checked for presence by the configuration).
var production = map[string]string{
	"APP_ENV": "production", "DATABASE_URL": "postgres://unused", "AUTH_JWKS_URL": "https://idp.example/jwks",
	"AUTH_ISSUER": apitest.Issuer, "AUTH_AUDIENCE": apitest.Audience,
}

func TestProductionTurnsOffIntrospectionSuggestionsAndGraphiQL(t *testing.T) {
	prod := apitest.New(t, apitest.WithEnv(production))
	dev := apitest.New(t)
	const schemaQuery = `{ __schema { queryType { name } } }`
	const typeQuery = `{ __type(name: "Query") { name } }`
	for _, q := range []string{schemaQuery, typeQuery, `query { ...I } fragment I on Query { __schema { types { name } } }`} {
		for _, id := range []apitest.Identity{apitest.Anonymous, apitest.Learner("l1"), apitest.ExamDelivery()} {
			r := prod.Do(id, q, nil)
			if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" || bytes.Contains(r.Raw, []byte(`"data"`)) {
				t.Errorf("production, %q as %q: got %s, want FORBIDDEN before execution", q, id.Subject, r.Raw)
			}
		}
		for _, id := range []apitest.Identity{apitest.Support("s1"), apitest.Admin("a1")} {
			prod.MustDo(id, q, nil, nil)
		}
		dev.MustDo(apitest.Anonymous, q, nil, nil)
	}
	// __typename is not introspection.
	prod.MustDo(apitest.Anonymous, `{ __typename }`, nil, nil)

	typo := `{ certificatons(first: 1) { totalCount } }`
	if e := prod.MustFail(apitest.Anonymous, typo, nil, "BAD_USER_INPUT"); strings.Contains(e.Message, "Did you mean") {
		t.Errorf("production suggests fields: %q", e.Message)
	}
	if e := dev.MustFail(apitest.Anonymous, typo, nil, "BAD_USER_INPUT"); !strings.Contains(e.Message, "Did you mean") {
		t.Errorf("development gives no suggestion: %q", e.Message)
	}

	if rec := request(prod, "GET", "/", "", "", nil); rec.Code != http.StatusNotFound || strings.Contains(strings.ToLower(rec.Body.String()), "graphiql") {
		t.Errorf("production GraphiQL: got %d, want 404", rec.Code)
	}
	if rec := request(dev, "GET", "/", "", "", nil); rec.Code != http.StatusOK {
		t.Errorf("development GraphiQL: got %d, want 200", rec.Code)
	}
}

// TestRequestDeadlineReachesTheDatabase blocks the catalog behind a lock: the query must give
// up when the request's deadline passes (INTERNAL with a request id), not wait for the lock.
func TestRequestDeadlineReachesTheDatabase(t *testing.T) {
	env := apitest.New(t, apitest.WithEnv(map[string]string{"REQUEST_TIMEOUT": "300ms"}))
	tx, err := env.DB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec(`LOCK TABLE certifications IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := env.Do(apitest.Anonymous, `{ certifications(first: 1) { totalCount } }`, nil)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v, want the 300ms deadline to end the query", took)
	}
	if len(r.Errors) == 0 || r.Errors[0].Code() != "INTERNAL" || r.Errors[0].Extensions["requestId"] == nil {
		t.Fatalf("got %s, want INTERNAL with a request id", r.Raw)
	}
}

func TestCostIsReported(t *testing.T) {
	env := apitest.New(t)
	r := env.Do(apitest.Anonymous, `{ certifications(first: 5) { totalCount nodes { code renewalAssessment { version } } } }`, nil)
	var out struct {
		Extensions struct {
			Cost struct{ Requested, Limit int }
		}
	}
	if err := json.Unmarshal(r.Raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.Extensions.Cost.Requested != 1+5*(1+1) || out.Extensions.Cost.Limit != 10000 {
		t.Fatalf("got extensions %s, want cost {requested 11, limit 10000}", r.Raw)
	}
}

// An executed operation's response carries its length: net/http then sends it whole instead of
// chunking a body larger than its 2 KB buffer (issue 12: one write fewer per request).
func TestResponsesCarryTheirLength(t *testing.T) {
	env := apitest.New(t)
	srv := httptest.NewServer(env.Server.Handler())
	defer srv.Close()
	body := `{"query":"{ certifications(first: 50) { nodes { code name level } } }"}`
	resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) <= 2048 {
		t.Fatalf("the response (%d bytes) is too small to show chunking: %s", len(got), got)
	}
	if len(resp.TransferEncoding) != 0 || resp.ContentLength != int64(len(got)) {
		t.Errorf("transfer encoding %v, content length %d, want none and %d", resp.TransferEncoding, resp.ContentLength, len(got))
	}
}
