package httpserver

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes assembles the handler around the services New built.
//
// Every request: request id and deadline, access log and metrics, panic recovery, security
// headers, CORS. /graphql then: the HTTP rules of GraphQL over HTTP (method, media types, body
// cap), the bearer token, the rate limit, fresh dataloaders, and gqlgen (whose extensions check
// the document and only then load the caller's account: a refused request never reaches the
// database).
func (s *Server) routes() error {
	d := s.deps
	s.metrics = newMetrics(d.Registry, d.DB, s.Store, d.Clock)
	s.limits = s.newRateLimits()
	gql, err := s.graphQL(s.Resolver)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", s.checkRequest(s.authenticate(s.limitRate(s.withLoaders(gql)))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))
	if !d.Config.Production() {
		mux.Handle("GET /{$}", playground.Handler("Recert", "/graphql"))
	}
	s.handler = s.withRequestID(s.accessLog(s.recoverPanics(securityHeaders(s.cors(mux)))))
	return nil
}

// Drain makes /readyz fail so load balancers stop sending new requests; in-flight and new
// requests are still served until the HTTP server shuts down.
func (s *Server) Drain() { s.draining.Store(true) }
