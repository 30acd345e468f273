package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"

	"github.com/recert/recert/internal/safe"
)

// routes assembles the handler around the GraphQL handler New was given.
//
// Every request: its span when tracing is on, request id and deadline, access log and metrics, panic recovery, security
// headers, CORS. /graphql then: the HTTP rules of GraphQL over HTTP (method, media types, body
// cap), the bearer token (failed ones limited per client address), the rate limit, and the GraphQL handler (which
// attaches fresh dataloaders, and whose extensions check the document and only then load the
// caller's account: a refused request never reaches the database).
func (s *Server) routes() error {
	d := s.deps
	s.metrics, s.limits = d.Edge.metrics, d.Edge.limits
	ips, err := newClientIPs(d.Config.Hardening.TrustedProxies, d.Config.Hardening.ClientIPHeader)
	if err != nil {
		return err
	}
	s.clientIPs = ips
	mux := http.NewServeMux()
	mux.Handle("/graphql", s.checkRequest(s.authenticate(s.limitRate(d.GraphQL))))
	if d.TeamCSV != nil {
		mux.Handle("GET /team/members.csv", s.authenticate(s.limitRate(http.HandlerFunc(s.teamMembersCSV))))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if c := d.Credentials; c != nil {
		s.credentialRoutes(mux, c)
	}
	if d.CalendarFeed != nil {
		mux.Handle("GET "+calendarRoute+"/{token}", s.anonymous(s.limitRate(http.HandlerFunc(s.calendarFeed))))
	}
	if !d.Config.Production() {
		mux.HandleFunc("GET /{$}", s.graphiQL)
	}
	s.handler = d.Tracing.HTTP(s.withRequestID(s.accessLog(s.recoverPanics(securityHeaders(s.cors(mux))))))
	return nil
}

// Drain makes /readyz fail so load balancers stop sending new requests; in-flight and new
// requests are still served until the HTTP server shuts down.
func (s *Server) Drain() { s.draining.Store(true) }

// Serve runs hs on ln until ctx ends, then shuts down gracefully: /readyz fails at once, the
// listener stays open for drainDelay so load balancers notice, then it closes and in-flight
// requests get up to grace to finish. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, hs *http.Server, ln net.Listener, drainDelay, grace time.Duration) error {
	errc := make(chan error, 1)
	safe.Go(s.deps.Log, "http server", func() { errc <- hs.Serve(ln) })
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Drain()
	s.deps.Log.Info("draining", "delay", drainDelay.String(), "grace", grace.String())
	select {
	case <-time.After(drainDelay):
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// graphiQL serves GraphiQL, its headers pre-filled with the token Deps.GraphiQLToken mints
// (the development learner's), so the first query runs as a signed-in learner.
func (s *Server) graphiQL(w http.ResponseWriter, r *http.Request) {
	var opts []playground.GraphiqlConfigOption
	if mint := s.deps.GraphiQLToken; mint != nil {
		tok, err := mint()
		if err != nil {
			s.deps.Log.ErrorContext(r.Context(), "mint the GraphiQL token", "error", err)
		} else {
			opts = append(opts, playground.WithGraphiqlUiHeaders(map[string]string{"Authorization": "Bearer " + tok}))
		}
	}
	playground.Handler("Recert", "/graphql", opts...).ServeHTTP(w, r)
}
