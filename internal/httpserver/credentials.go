package httpserver

import (
	"net/http"
	"strconv"

	"github.com/recert/recert/internal/credential"
)

// credentialRoutes serves what a verifier of a credential fetches, to anyone (no token): the
// public keys, the issuer profile and the status lists (docs/api.md "Verifiable credentials").
// Like the calendar feed, every request takes a token of the anonymous rate limit of its client
// address (RATE_LIMIT_ANON_*): a status list is read from the database on every fetch.
// Any origin may read the answers, the 429 of the limit included (a verifier in a browser needs
// its Retry-After).
func (s *Server) credentialRoutes(mux *http.ServeMux, c *credential.Service) {
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.anonymous(anyOrigin(s.limitRate(h))))
	}
	jwks := c.Keys().JWKS()
	handle("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(jwks)
	})
	issuer := c.IssuerProfile()
	handle("GET /credentials/issuer", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(issuer)
	})
	handle("GET /credentials/status/{list}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("list"), 10, 32)
		if err != nil || n < 0 {
			http.NotFound(w, r)
			return
		}
		list, err := c.StatusList(r.Context(), n)
		if err != nil {
			s.deps.Log.Error("status list", "error", err, "list", n)
			http.Error(w, "status list unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("ETag", list.ETag)
		// Short: a revocation must reach verifiers soon; the ETag makes revalidation cheap.
		w.Header().Set("Cache-Control", "public, max-age=60, must-revalidate")
		if r.Header.Get("If-None-Match") == list.ETag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/vc+jwt")
		_, _ = w.Write(list.Body)
	})
}

// anyOrigin lets a page of any origin read the response and its Retry-After.
func anyOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "ETag, Retry-After, X-Request-Id")
		next.ServeHTTP(w, r)
	})
}
