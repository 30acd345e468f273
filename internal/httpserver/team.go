package httpserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
)

// TeamCSV streams the team view of the manager p as CSV to the writer begin returns (after its
// own checks, so an error before begin can still be answered); expiringWithinDays filters as
// Team.members does. It is team.Service's export, handed over by the composition root.
type TeamCSV func(ctx context.Context, p *auth.Principal, expiringWithinDays *int, begin func() io.Writer) error

// teamMembersCSV serves GET /team/members.csv: the rows of Team.members, streamed, for a team
// manager's bearer token. Errors before the first byte are the API's JSON errors with their
// HTTP status; a failure after it cuts the response short (the CSV has no final row marker,
// so clients compare the row count with what they expect only through repeated reads).
func (s *Server) teamMembersCSV(w http.ResponseWriter, r *http.Request) {
	var days *int
	if v := r.URL.Query().Get("expiringWithinDays"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, apperr.Invalid("expiringWithinDays must be a whole number of days").
				With("argument", "expiringWithinDays"), r)
			return
		}
		days = &n
	}
	p := auth.PrincipalFrom(r.Context())
	started := false
	err := s.deps.TeamCSV(r.Context(), p, days, func() io.Writer {
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="team-members.csv"`)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return w
	})
	if err == nil {
		return
	}
	if started {
		s.deps.Log.ErrorContext(r.Context(), "team export cut short", "request_id", RequestID(r.Context()), "error", err)
		panic(http.ErrAbortHandler)
	}
	status := http.StatusInternalServerError
	switch apperr.CodeOf(err) {
	case apperr.Unauthenticated:
		status = http.StatusUnauthorized
	case apperr.Forbidden:
		status = http.StatusForbidden
	case apperr.BadUserInput:
		status = http.StatusBadRequest
	default:
		s.deps.Log.ErrorContext(r.Context(), "team export", "request_id", RequestID(r.Context()), "error", err)
		err = apperr.E(apperr.Internal, "internal error")
	}
	writeError(w, status, asAppErr(err), r)
}

// asAppErr is the API error inside err (wrapped by the domain's context), or err itself.
func asAppErr(err error) error {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e
	}
	return err
}
