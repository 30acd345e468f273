package httpserver

import (
	"net/http"
	"strconv"

	"github.com/recert/recert/internal/credential"
)

// credentialRoutes serves what a verifier of a credential fetches, to anyone (no token): the
// public keys, the issuer profile and the status lists (docs/api.md "Verifiable credentials").
func (s *Server) credentialRoutes(mux *http.ServeMux, c *credential.Service) {
	jwks := c.Keys().JWKS()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(jwks)
	})
	issuer := c.IssuerProfile()
	mux.HandleFunc("GET /credentials/issuer", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(issuer)
	})
	mux.HandleFunc("GET /credentials/status/{list}", func(w http.ResponseWriter, r *http.Request) {
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
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Header.Get("If-None-Match") == list.ETag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/vc+jwt")
		_, _ = w.Write(list.Body)
	})
}
