package httpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/realclientip/realclientip-go"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
)

// defaultMaxBody caps a request body when the configuration does not.
const defaultMaxBody = 1 << 20

func (s *Server) maxBody() int64 {
	if n := s.deps.Config.Hardening.MaxBodyBytes; n > 0 {
		return n
	}
	return defaultMaxBody
}

// authenticate verifies the bearer token of the Authorization header, if any: tokens are read
// from that header only, never from the URL or a cookie. No token means anonymous; an invalid
// token refuses the whole request with 401 and WWW-Authenticate (RFC 6750), without quoting it.
// Failed authentications are counted per client address (RATE_LIMIT_AUTH_FAILURES_*): while an
// address has none left, its requests carrying a credential are refused with RATE_LIMITED
// before the token is even parsed, so guessing and junk-token floods are throttled.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := s.clientIP(r)
		r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip))
		raw, ok, err := auth.BearerToken(r.Header)
		failures := s.limits.authFailures
		if failures != nil && (ok || err != nil) {
			if exhausted, retryAt := failures.Exhausted("ip:" + ip); exhausted {
				s.metrics.rateLimited.WithLabelValues("auth_failures").Inc()
				w.Header().Set("Retry-After", retryAfter(retryAt, s.deps.Clock.Now()))
				writeError(w, http.StatusTooManyRequests, rateLimitError(retryAt), r)
				return
			}
		}
		if err == nil && ok {
			var p *auth.Principal
			if p, err = s.deps.Verifier.Verify(r.Context(), raw); err == nil {
				r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			}
		}
		if err != nil {
			if apperr.CodeOf(err) != apperr.Unauthenticated {
				s.deps.Log.ErrorContext(r.Context(), "authenticate", "request_id", RequestID(r.Context()), "error", err)
				writeError(w, http.StatusInternalServerError, apperr.E(apperr.Internal, "internal error"), r)
				return
			}
			if failures != nil {
				failures.Allow("ip:"+ip, 1)
			}
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, err, r)
			return
		}
		info(r.Context()).principal = auth.PrincipalFrom(r.Context()).Identity()
		next.ServeHTTP(w, r)
	})
}

// rateKey identifies the caller for rate limits: the principal, or the client address when
// anonymous.
func rateKey(r *http.Request) (key string, anonymous bool) {
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		return "p:" + p.Identity(), false
	}
	ip, _ := r.Context().Value(clientIPKey{}).(string)
	return "ip:" + ip, true
}

// clientIPs resolves the client address of a request: the connection's peer, unless the peer
// is one of TRUSTED_PROXIES; then the right-most address of CLIENT_IP_HEADER (X-Forwarded-For
// or Forwarded for=) that is not itself a trusted proxy, since everything left of it was
// written by the client and may be forged. A header from an untrusted peer is ignored.
type clientIPs struct {
	trusted []net.IPNet
	header  realclientip.Strategy // nil when no proxy is trusted
}

// newClientIPs trusts the given proxies to write the client address to header
// (X-Forwarded-For when empty, or Forwarded).
func newClientIPs(trusted []net.IPNet, header string) (clientIPs, error) {
	c := clientIPs{trusted: trusted}
	if len(trusted) == 0 {
		return c, nil
	}
	if header == "" {
		header = "X-Forwarded-For"
	}
	strategy, err := realclientip.NewRightmostTrustedRangeStrategy(header, trusted)
	if err != nil {
		return c, fmt.Errorf("client address: %w", err)
	}
	c.header = strategy
	return c, nil
}

// of returns the client address of r.
func (c clientIPs) of(r *http.Request) string {
	peer := realclientip.RemoteAddrStrategy{}.ClientIP(nil, r.RemoteAddr)
	if peer == "" {
		return r.RemoteAddr
	}
	if c.header == nil || !c.isTrusted(peer) {
		return peer
	}
	if ip := c.header.ClientIP(r.Header, r.RemoteAddr); ip != "" {
		return ip
	}
	// No usable forwarded address (none, all of them trusted, or malformed): the proxy itself.
	return peer
}

func (c clientIPs) isTrusted(addr string) bool {
	ip := net.ParseIP(addr)
	for _, n := range c.trusted {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is the client address of r (see clientIPs).
func (s *Server) clientIP(r *http.Request) string { return s.clientIPs.of(r) }

// limitRate applies the general per-principal (per client address for anonymous) rate limit before the
// request body is parsed as GraphQL. Refusals are 429 with Retry-After and RATE_LIMITED with
// extensions.retryAt.
func (s *Server) limitRate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, anon := rateKey(r)
		lim := s.limits.principal
		if anon {
			lim = s.limits.anonymous
		}
		if lim != nil {
			if ok, retryAt := lim.Allow(key, 1); !ok {
				s.metrics.rateLimited.WithLabelValues("request").Inc()
				w.Header().Set("Retry-After", retryAfter(retryAt, s.deps.Clock.Now()))
				writeError(w, http.StatusTooManyRequests, rateLimitError(retryAt), r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// rateLimitError is the RATE_LIMITED error with the instant the caller may retry.
func rateLimitError(retryAt time.Time) *apperr.Error {
	return apperr.E(apperr.RateLimited, "too many requests; retry after %s", retryAt.UTC().Format(time.RFC3339)).
		With("retryAt", retryAt.UTC().Format(time.RFC3339))
}

// corsAllowedHeaders are the request headers a browser may send cross-origin.
var corsAllowedHeaders = []string{"authorization", "content-type", "accept", "apollographql-client-name", "apollographql-client-version"}

// cors answers CORS for the origins of CORS_ORIGINS only. Credentials (cookies) are never
// allowed, since tokens travel in the Authorization header; there is no wildcard. A preflight
// from another origin, or asking for another method or header, gets 403 without CORS headers.
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := s.deps.Config.CORSOrigins
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		ok := origin != "" && slices.Contains(allowed, origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Add("Vary", "Access-Control-Request-Method")
			w.Header().Add("Vary", "Access-Control-Request-Headers")
			method := r.Header.Get("Access-Control-Request-Method")
			if !ok || (method != http.MethodGet && method != http.MethodPost) || !headersAllowed(r.Header.Get("Access-Control-Request-Headers")) {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", strings.Join(corsAllowedHeaders, ", "))
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
		}
		next.ServeHTTP(w, r)
	})
}

func headersAllowed(list string) bool {
	for h := range strings.SplitSeq(list, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && !slices.Contains(corsAllowedHeaders, h) {
			return false
		}
	}
	return true
}

// securityHeaders sets headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// requestInfo collects what the access log and the metrics report about one request; the
// GraphQL layer fills in the operation.
type requestInfo struct {
	mu        sync.Mutex
	principal string
	opName    string
	opLabel   string
	cost      int
	codes     []string
}

type requestInfoKey struct{}

// info returns the request's requestInfo; a throwaway one outside the access log.
func info(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

func (ri *requestInfo) addCode(code string) {
	ri.mu.Lock()
	ri.codes = append(ri.codes, code)
	ri.mu.Unlock()
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one structured log line per request (request id, method, route, status,
// duration, operation, principal identity, cost, error codes) and counts it in the metrics.
// Headers, bodies and tokens are never logged.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := routeLabel(r.URL.Path)
		elapsed := time.Since(start)
		s.metrics.http.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		ri.mu.Lock()
		attrs := []slog.Attr{
			slog.String("request_id", RequestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("remote_ip", s.clientIP(r)),
		}
		if ri.principal != "" {
			attrs = append(attrs, slog.String("principal", ri.principal))
		}
		if ri.opLabel != "" {
			attrs = append(attrs, slog.String("operation", ri.opLabel), slog.String("operation_name", truncate(ri.opName, 100)),
				slog.Int("cost", ri.cost))
		}
		if len(ri.codes) > 0 {
			attrs = append(attrs, slog.Any("error_codes", ri.codes))
		}
		ri.mu.Unlock()
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			level = slog.LevelDebug
		}
		s.deps.Log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

func routeLabel(path string) string {
	switch path {
	case "/graphql", "/healthz", "/readyz", "/metrics", "/":
		return path
	}
	if strings.HasPrefix(path, calendarRoute+"/") {
		return calendarRoute
	}
	return "other"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// writeError answers a request refused before GraphQL execution, in the GraphQL response
// shape (and media type) so clients handle it like any other error. It never quotes the request.
func writeError(w http.ResponseWriter, status int, err error, r *http.Request) {
	code, msg := apperr.Internal, "internal error"
	ext := map[string]any{}
	if e, ok := err.(*apperr.Error); ok {
		code, msg = e.Code, e.Message
		for k, v := range e.Extensions {
			ext[k] = v
		}
	}
	ext["code"] = string(code)
	if code == apperr.Internal {
		ext["requestId"] = RequestID(r.Context())
	}
	info(r.Context()).addCode(string(code))
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		media = mediaJSON
	}
	w.Header().Set("Content-Type", contentType(media))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": ext}},
	})
}
