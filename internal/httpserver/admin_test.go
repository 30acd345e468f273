package httpserver_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// /metrics and pprof answer on the admin handler only, never on the API's handler: metrics
// name operations and error rates and each scrape queries the database (issue 11 point 12).
func TestMetricsAndPprofOnlyOnAdminHandler(t *testing.T) {
	env := apitest.New(t)
	env.MustDo(apitest.Anonymous, `{ certifications(first: 1) { totalCount } }`, nil, nil)
	for path, want := range map[string]string{"/debug/pprof/": "goroutine", "/metrics": "recert_graphql_operations_total"} {
		rec := httptest.NewRecorder()
		env.Server.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("admin %s: got %d, want 200 with %s", path, rec.Code, want)
		}
		rec = httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("API %s: got %d, want 404", path, rec.Code)
		}
	}
}
