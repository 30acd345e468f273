package httpserver_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/recert/recert/internal/apitest"
	"github.com/recert/recert/internal/httpserver"
)

// pprof answers on the admin handler only, never on the API's handler.
func TestPprofOnlyOnAdminHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	httpserver.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("admin /debug/pprof/: got %d, want 200", rec.Code)
	}
	env := apitest.New(t)
	rec = httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("API /debug/pprof/: got %d, want 404", rec.Code)
	}
}
