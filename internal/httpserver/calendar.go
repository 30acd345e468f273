package httpserver

import (
	"context"
	"net/http"
	"strings"

	"github.com/recert/recert/internal/apperr"
)

// calendarRoute is the path prefix of calendar feeds (and their metrics label): the token
// that follows is the secret, so logs and metrics name the route only.
const calendarRoute = "/calendar"

// anonymous marks a request that reads no credential: its rate limit is keyed by the client
// address, like any anonymous GraphQL request.
func (s *Server) anonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, s.clientIP(r))))
	})
}

// calendarFeed serves GET (and HEAD) /calendar/{token}.ics: the iCalendar feed behind the
// token, text/calendar, with an ETag answered by 304 on If-None-Match; 404 for an unknown or
// revoked token. No bearer token is needed or read: calendar apps subscribe with the URL alone.
func (s *Server) calendarFeed(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSuffix(r.PathValue("token"), ".ics")
	body, etag, err := s.deps.CalendarFeed(r.Context(), token)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		s.deps.Log.ErrorContext(r.Context(), "calendar feed", "request_id", RequestID(r.Context()), "error", err)
		http.Error(w, "internal error (request "+RequestID(r.Context())+")", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("ETag", etag)
	// Calendar apps poll; intermediaries must not keep a copy of a secret URL's answer.
	h.Set("Cache-Control", "private, no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Content-Disposition", `inline; filename="recert-renewals.ics"`)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches applies If-None-Match (RFC 9110 13.1.2, weak comparison): "*" or any listed tag.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
