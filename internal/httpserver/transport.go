package httpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/recert/recert/internal/apperr"
)

// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): the media types a
// response may have. application/json is the default (a missing Accept header, */* and
// application/*); application/graphql-response+json when the client asks for it.
const (
	mediaJSON          = "application/json"
	mediaGraphQLResult = "application/graphql-response+json"
)

// negotiate picks the response media type from the Accept header, honouring q-values; ok is
// false when the client accepts neither JSON type (406).
func negotiate(accept string) (media string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var m string
		switch mt {
		case mediaGraphQLResult:
			m = mediaGraphQLResult
		case mediaJSON, "application/*", "*/*":
			m = mediaJSON
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = m, q
		}
	}
	return best, best != ""
}

// contentType is the Content-Type header of a response of media type m.
func contentType(m string) string { return m + "; charset=utf-8" }

// checkRequest applies the HTTP rules of the GraphQL endpoint before anything else reads the
// request: GET and POST only (405 with Allow), a response type the client accepts (406), JSON
// bodies only (415: no multipart or form posts, which a browser may send cross-site without a
// preflight), and a body no larger than the cap (413, refused without reading it in full).
// The body is then held in memory, so later stages never wait on the client.
func (s *Server) checkRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, apperr.Invalid("method %s is not allowed; use GET or POST", r.Method), r)
			return
		}
		if _, ok := negotiate(r.Header.Get("Accept")); !ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotAcceptable)
			_, _ = io.WriteString(w, "responses are application/json or application/graphql-response+json\n")
			return
		}
		if r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != mediaJSON || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
			writeError(w, http.StatusUnsupportedMediaType, apperr.Invalid("the request body must be application/json (UTF-8)"), r)
			return
		}
		max := s.maxBody()
		if r.ContentLength > max {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.Invalid("request body too large"), r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, apperr.Invalid("request body too large"), r)
				return
			}
			writeError(w, http.StatusBadRequest, apperr.Invalid("could not read the request body"), r)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// transport is the only gqlgen transport: POST with a JSON body and GET with URL parameters
// (queries only). No multipart, form or websocket transport is installed.
type httpTransport struct{ e *Edge }

var _ graphql.Transport = httpTransport{}

// Supports accepts the requests checkRequest let through.
func (httpTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodPost
}

// Do runs one GraphQL request. Malformed requests (JSON that does not parse, parameters of the
// wrong type, no query) get 400 whatever the media type. Request errors (parse, validation,
// limits) get 200 with application/json and 400 with application/graphql-response+json, as
// the spec asks; RATE_LIMITED gets 429 with Retry-After, and UNAVAILABLE (the database is
// unreachable or read-only) 503 with Retry-After. Messages never quote the request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media, _ := negotiate(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType(media))
	start := graphql.Now()
	params, perr := readParams(r)
	if perr != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeRequestError(w, exec.DispatchError(ctx, gqlerror.List{{Err: perr, Message: perr.Message}}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if media == mediaGraphQLResult {
			status = http.StatusBadRequest
		}
		if retryAt, limited := rateLimited(errs); limited {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", retryAfter(retryAt, t.e.clock.Now()))
		}
		if unavailable(errs) {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterSeconds))
		}
		w.WriteHeader(status)
		writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	if r.Method == http.MethodGet && oc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		err := apperr.Invalid("%s operations need POST; GET runs queries only", oc.Operation.Operation)
		writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{{Err: err, Message: err.Message}}))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	if resp == nil { // gqlgen gives nothing when the request's deadline has passed
		w.WriteHeader(http.StatusServiceUnavailable)
		err := apperr.E(apperr.Internal, "the request ran out of time")
		writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{{Err: err, Message: err.Message}}))
		return
	}
	body := responseJSON(resp)
	// With its length known, net/http sends the response in one piece instead of chunking a
	// body larger than its 2 KB buffer (a dashboard of a few certifications is larger).
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if unavailable(resp.Errors) {
		w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterSeconds))
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(body)
}

// unavailable reports whether any error is UNAVAILABLE (the database is unreachable or
// read-only), which the response answers with 503 and Retry-After whatever else it holds.
func unavailable(errs gqlerror.List) bool {
	for _, e := range errs {
		var ae *apperr.Error
		if errors.As(e, &ae) && ae.Code == apperr.Unavailable {
			return true
		}
		if code, _ := e.Extensions["code"].(string); code == string(apperr.Unavailable) {
			return true
		}
	}
	return false
}

// readParams reads query, operationName, variables and extensions from the JSON body (POST)
// or the URL (GET). Codes: BAD_USER_INPUT.
func readParams(r *http.Request) (*graphql.RawParams, *apperr.Error) {
	fields := map[string]json.RawMessage{}
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, apperr.Invalid("malformed URL query")
		}
		for _, k := range []string{"query", "operationName"} {
			if q.Has(k) {
				fields[k], _ = json.Marshal(q.Get(k))
			}
		}
		for _, k := range []string{"variables", "extensions"} {
			if v := q.Get(k); v != "" {
				fields[k] = json.RawMessage(v)
			}
		}
	} else {
		body, _ := io.ReadAll(r.Body)
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, apperr.Invalid("the request body is empty")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&fields); err != nil || fields == nil {
			return nil, apperr.Invalid("the request body is not a JSON object")
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, apperr.Invalid("the request body is not a JSON object")
		}
	}
	p := &graphql.RawParams{}
	if err := stringParam(fields, "query", &p.Query); err != nil {
		return nil, err
	}
	if err := stringParam(fields, "operationName", &p.OperationName); err != nil {
		return nil, err
	}
	if err := objectParam(fields, "variables", &p.Variables); err != nil {
		return nil, err
	}
	if err := objectParam(fields, "extensions", &p.Extensions); err != nil {
		return nil, err
	}
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return nil, apperr.Invalid("the request has no query")
	}
	return p, nil
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
}

func stringParam(fields map[string]json.RawMessage, name string, out *string) *apperr.Error {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return apperr.Invalid("%s must be a string", name)
	}
	return nil
}

func objectParam(fields map[string]json.RawMessage, name string, out *map[string]any) *apperr.Error {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil || *out == nil {
		return apperr.Invalid("%s must be a JSON object", name)
	}
	return nil
}

// rateLimited finds a RATE_LIMITED error and its retryAt.
func rateLimited(errs gqlerror.List) (time.Time, bool) {
	for _, e := range errs {
		var ae *apperr.Error
		if errors.As(e, &ae) && ae.Code == apperr.RateLimited {
			at, _ := ae.Extensions["retryAt"].(string)
			t, err := time.Parse(time.RFC3339, at)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// retryAfter is the Retry-After header value: whole seconds until at, at least 1.
func retryAfter(at, now time.Time) string {
	secs := int64(math.Ceil(at.Sub(now).Seconds()))
	return strconv.FormatInt(max(secs, 1), 10)
}

// writeRequestError writes the response to a request that was not executed: errors (and
// extensions) only, with no data entry, as GraphQL over HTTP requires.
func writeRequestError(w io.Writer, resp *graphql.Response) {
	out := struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions}
	b, err := json.Marshal(out)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	_, _ = w.Write(b)
}

// writeJSON writes an executed operation's response. The common answer, data and extensions
// (the cost) without errors, is written with Data as it is: gqlgen built it as JSON, and
// json.Marshal would only scan it again to check and compact it (about 5 % of a dashboard
// request's CPU, issue 12). The bytes are the same json.Marshal writes.
func writeJSON(w io.Writer, resp *graphql.Response) {
	_, _ = w.Write(responseJSON(resp))
}

// responseJSON is the JSON of a response: written around gqlgen's data as it is when the
// response carries only data and extensions, json.Marshal otherwise.
func responseJSON(resp *graphql.Response) []byte {
	if len(resp.Errors) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Data) > 0 {
		var ext []byte
		if len(resp.Extensions) > 0 {
			var err error
			if ext, err = json.Marshal(resp.Extensions); err != nil {
				ext = nil
			}
		}
		if ext != nil || len(resp.Extensions) == 0 {
			b := make([]byte, 0, len(resp.Data)+len(ext)+len(`{"data":,"extensions":}`))
			b = append(append(b, `{"data":`...), resp.Data...)
			if ext != nil {
				b = append(append(b, `,"extensions":`...), ext...)
			}
			return append(b, '}')
		}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	return b
}
