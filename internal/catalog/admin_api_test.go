package catalog_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const upsertExam = `mutation($in: UpsertExamInput!) { upsertExam(input: $in) {
  exam { code title languages retiredOn supersedes { code } } } }`

const upsertCert = `mutation($in: UpsertCertificationInput!) { upsertCertification(input: $in) {
  certification { id code name level releasedOn retiredOn languages expires
    requirementPaths { code } prerequisites { code } } } }`

const certQuery = `query($code: String!) { certification(code: $code) {
  code name level releasedOn retiredOn languages requirementPaths { code } prerequisites { code } } }`

type examOut struct {
	Code       string
	Title      string
	Languages  []string
	RetiredOn  *string
	Supersedes *struct{ Code string }
}

type certOut struct {
	ID               string
	Code             string
	Name             string
	Level            string
	ReleasedOn       string
	RetiredOn        *string
	Languages        []string
	Expires          bool
	RequirementPaths [][]struct{ Code string }
	Prerequisites    []struct{ Code string }
}

func (c certOut) paths() [][]string {
	var out [][]string
	for _, p := range c.RequirementPaths {
		var codes []string
		for _, e := range p {
			codes = append(codes, e.Code)
		}
		out = append(out, codes)
	}
	return out
}

func (c certOut) prereqs() []string {
	var out []string
	for _, p := range c.Prerequisites {
		out = append(out, p.Code)
	}
	return out
}

var admin = apitest.Admin("root")

func readCert(t *testing.T, env *apitest.Env, code string) *certOut {
	t.Helper()
	var out struct{ Certification *certOut }
	env.MustDo(apitest.Anonymous, certQuery, map[string]any{"code": code}, &out)
	return out.Certification
}

type auditRow struct {
	Action  string
	Actor   string
	Details []byte
}

func audits(t *testing.T, env *apitest.Env) []auditRow {
	t.Helper()
	var rows []auditRow
	if err := env.DB.Select(&rows, `SELECT action, actor, details FROM audit_events WHERE action LIKE 'catalog.%' ORDER BY occurred_at, id`); err != nil {
		t.Fatal(err)
	}
	return rows
}

// fails runs an operation that must fail with code, reporting on t.
func fails(t *testing.T, env *apitest.Env, who apitest.Identity, query string, vars map[string]any, code string) apitest.Error {
	t.Helper()
	r := env.Do(who, query, vars)
	if len(r.Errors) == 0 {
		t.Fatalf("got no error, want %s\n%s", code, r.Raw)
	}
	if got := r.Errors[0].Code(); got != code {
		t.Fatalf("got code %s, want %s\n%s", got, code, r.Raw)
	}
	return r.Errors[0]
}

func TestUpsertExamCreatesThenUpdatesAndAudits(t *testing.T) {
	env := apitest.New(t)
	var out struct{ UpsertExam struct{ Exam examOut } }
	env.MustDo(admin, upsertExam, map[string]any{"in": map[string]any{
		"code": "az-105", "title": "Azure Administrator (next)", "languages": []string{"en", "ja", "zh-hans"}, "supersedes": "AZ-104"}}, &out)
	e := out.UpsertExam.Exam
	if e.Code != "AZ-105" || !slices.Equal(e.Languages, []string{"en", "ja", "zh-Hans"}) || e.Supersedes == nil || e.Supersedes.Code != "AZ-104" {
		t.Fatalf("got %+v, want AZ-105 superseding AZ-104 with canonical languages", e)
	}
	env.Clock.Advance(time.Minute)
	env.MustDo(admin, upsertExam, map[string]any{"in": map[string]any{
		"code": "AZ-105", "title": "Azure Administrator II", "languages": []string{"en"}, "retiredOn": "2023-06-30"}}, &out)
	e = out.UpsertExam.Exam
	if e.Title != "Azure Administrator II" || e.RetiredOn == nil || *e.RetiredOn != "2023-06-30" || e.Supersedes != nil ||
		!slices.Equal(e.Languages, []string{"en"}) {
		t.Fatalf("got %+v, want the update to replace every field", e)
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM exams WHERE code = 'AZ-105'`); err != nil || n != 1 {
		t.Fatalf("got %d rows (%v), want 1", n, err)
	}
	rows := audits(t, env)
	if len(rows) != 2 || rows[0].Action != "catalog.upsertExam" || rows[0].Actor != apitest.Issuer+"|root" {
		t.Fatalf("got audit events %+v, want two catalog.upsertExam by root", rows)
	}
	var d struct {
		Code    string
		Created bool
		Before  *struct{ Title string }
		After   *struct{ Title string }
	}
	if err := json.Unmarshal(rows[1].Details, &d); err != nil {
		t.Fatal(err)
	}
	if d.Code != "AZ-105" || d.Created || d.Before == nil || d.Before.Title != "Azure Administrator (next)" || d.After.Title != "Azure Administrator II" {
		t.Fatalf("got details %s, want the update's before and after", rows[1].Details)
	}
	if err := json.Unmarshal(rows[0].Details, &d); err != nil || !d.Created || d.Before != nil {
		t.Fatalf("got details %s, want a creation with no before", rows[0].Details)
	}
}

func TestUpsertIsForAdminsOnly(t *testing.T) {
	env := apitest.New(t)
	exam := map[string]any{"in": map[string]any{"code": "XX-100", "title": "X", "languages": []string{"en"}}}
	cert := map[string]any{"in": map[string]any{"code": "x-cert", "name": "X", "level": "ASSOCIATE", "releasedOn": "2020-01-01",
		"languages": []string{"en"}, "requirementPaths": [][]string{{"AZ-104"}}}}
	for _, who := range []apitest.Identity{apitest.Learner("alice"), apitest.Support("agent"), apitest.ExamDelivery(), apitest.Work("wendy")} {
		fails(t, env, who, upsertExam, exam, "FORBIDDEN")
		fails(t, env, who, upsertCert, cert, "FORBIDDEN")
	}
	fails(t, env, apitest.Anonymous, upsertExam, exam, "UNAUTHENTICATED")
	fails(t, env, apitest.Anonymous, upsertCert, cert, "UNAUTHENTICATED")
	if rows := audits(t, env); len(rows) != 0 {
		t.Fatalf("got %d audit events, want none", len(rows))
	}
	if readCert(t, env, "x-cert") != nil {
		t.Fatal("got the certification created, want nothing")
	}
}

func TestUpsertExamRefusesBadInput(t *testing.T) {
	env := apitest.New(t)
	base := map[string]any{"code": "XX-100", "title": "X", "languages": []string{"en"}}
	with := func(k string, v any) map[string]any {
		in := map[string]any{}
		for kk, vv := range base {
			in[kk] = vv
		}
		in[k] = v
		return map[string]any{"in": in}
	}
	cases := map[string]map[string]any{
		"code format":                           with("code", "XX100"),
		"empty title":                           with("title", " "),
		"no languages":                          with("languages", []string{}),
		"bad language":                          with("languages", []string{"klingon-language"}),
		"supersedes itself":                     with("supersedes", "XX-100"),
		"supersedes an unknown exam":            with("supersedes", "ZZ-999"),
		"bad date":                              with("retiredOn", "2023-02-30"),
		"AZ-103 superseding its successor":      {"in": map[string]any{"code": "AZ-103", "title": "T", "languages": []string{"en"}, "supersedes": "AZ-104"}},
		"missing title (GraphQL validation)":    {"in": map[string]any{"code": "XX-100", "languages": []string{"en"}}},
		"languages of wrong type (GraphQL)":     with("languages", 3),
		"code missing entirely (GraphQL input)": {"in": map[string]any{"title": "T", "languages": []string{"en"}}},
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) { fails(t, env, admin, upsertExam, vars, "BAD_USER_INPUT") })
	}
	var n int
	if err := env.DB.Get(&n, `SELECT count(*) FROM exams WHERE code = 'XX-100'`); err != nil || n != 0 {
		t.Fatalf("got %d rows (%v), want 0", n, err)
	}
	var sup *string
	if err := env.DB.Get(&sup, `SELECT supersedes FROM exams WHERE code = 'AZ-103'`); err != nil || sup != nil {
		t.Fatalf("got AZ-103 superseding %v (%v), want nothing", sup, err)
	}
	if rows := audits(t, env); len(rows) != 0 {
		t.Fatalf("got %d audit events, want none", len(rows))
	}
}

func TestUpsertCertificationCreatesWithPathsAndPrerequisites(t *testing.T) {
	env := apitest.New(t)
	var out struct {
		UpsertCertification struct{ Certification certOut }
	}
	env.MustDo(admin, upsertCert, map[string]any{"in": map[string]any{
		"code": "azure-network-engineer-associate", "name": "Microsoft Certified: Azure Network Engineer Associate",
		"level": "ASSOCIATE", "releasedOn": "2021-02-28", "languages": []string{"en", "ja"},
		"requirementPaths": [][]string{{"AZ-104"}, {"az-103", "AZ-500"}},
		"prerequisites":    []string{"azure-fundamentals"},
	}}, &out)
	c := out.UpsertCertification.Certification
	want := [][]string{{"AZ-104"}, {"AZ-103", "AZ-500"}}
	if c.Code != "azure-network-engineer-associate" || c.Level != "ASSOCIATE" || c.ReleasedOn != "2021-02-28" || !c.Expires ||
		!slices.EqualFunc(c.paths(), want, slices.Equal) || !slices.Equal(c.prereqs(), []string{"azure-fundamentals"}) {
		t.Fatalf("got %+v, want the certification with paths %v and the fundamentals prerequisite", c, want)
	}
	read := readCert(t, env, c.Code)
	if read == nil || !slices.EqualFunc(read.paths(), want, slices.Equal) || read.Name != c.Name {
		t.Fatalf("got %+v when read back, want the same certification", read)
	}
	rows := audits(t, env)
	if len(rows) != 1 || rows[0].Action != "catalog.upsertCertification" || rows[0].Actor != apitest.Issuer+"|root" {
		t.Fatalf("got audit events %+v, want one catalog.upsertCertification", rows)
	}
	var d struct {
		Created bool
		After   struct {
			RequirementPaths [][]string
			Prerequisites    []string
		}
	}
	if err := json.Unmarshal(rows[0].Details, &d); err != nil || !d.Created ||
		!slices.EqualFunc(d.After.RequirementPaths, want, slices.Equal) || !slices.Equal(d.After.Prerequisites, []string{"azure-fundamentals"}) {
		t.Fatalf("got details %s, want the created paths and prerequisites", rows[0].Details)
	}
}

func TestUpsertCertificationReplacesPathsAndPrerequisites(t *testing.T) {
	env := apitest.New(t)
	before := readCert(t, env, "devops-engineer-expert")
	if before == nil || len(before.Prerequisites) != 2 {
		t.Fatalf("got %+v, want the shipped DevOps expert with two prerequisites", before)
	}
	var out struct {
		UpsertCertification struct{ Certification certOut }
	}
	env.MustDo(admin, upsertCert, map[string]any{"in": map[string]any{
		"code": "devops-engineer-expert", "name": "Microsoft Certified: DevOps Engineer Expert",
		"level": "EXPERT", "releasedOn": "2019-03-04", "retiredOn": "2030-12-31", "languages": []string{"en"},
		"requirementPaths": [][]string{{"AZ-400", "AZ-104"}},
		"prerequisites":    []string{"azure-developer-associate"},
	}}, &out)
	after := readCert(t, env, "devops-engineer-expert")
	if !slices.EqualFunc(after.paths(), [][]string{{"AZ-104", "AZ-400"}}, slices.Equal) ||
		!slices.Equal(after.prereqs(), []string{"azure-developer-associate"}) ||
		after.RetiredOn == nil || *after.RetiredOn != "2030-12-31" || !slices.Equal(after.Languages, []string{"en"}) {
		t.Fatalf("got %+v, want paths and prerequisites replaced", after)
	}
	// Omitting prerequisites clears them.
	env.Clock.Advance(time.Minute)
	env.MustDo(admin, upsertCert, map[string]any{"in": map[string]any{
		"code": "devops-engineer-expert", "name": "DevOps", "level": "EXPERT", "releasedOn": "2019-03-04",
		"languages": []string{"en"}, "requirementPaths": [][]string{{"AZ-400"}},
	}}, &out)
	if got := readCert(t, env, "devops-engineer-expert"); len(got.Prerequisites) != 0 || got.RetiredOn != nil {
		t.Fatalf("got %+v, want no prerequisites and no retirement", got)
	}
	var d struct {
		Created bool
		Before  struct{ Prerequisites []string }
	}
	rows := audits(t, env)
	if err := json.Unmarshal(rows[0].Details, &d); err != nil || d.Created ||
		!slices.Equal(d.Before.Prerequisites, []string{"azure-administrator-associate", "azure-developer-associate"}) {
		t.Fatalf("got details %s, want the shipped prerequisites as before", rows[0].Details)
	}
}

func TestUpsertCertificationRefusesBadInput(t *testing.T) {
	env := apitest.New(t)
	base := func() map[string]any {
		return map[string]any{"code": "azure-administrator-associate", "name": "Azure Administrator", "level": "ASSOCIATE",
			"releasedOn": "2019-03-26", "languages": []string{"en"}, "requirementPaths": [][]string{{"AZ-104"}}}
	}
	with := func(k string, v any) map[string]any {
		in := base()
		in[k] = v
		return map[string]any{"in": in}
	}
	cases := map[string]map[string]any{
		"code not a slug":                        with("code", "Azure Admin"),
		"empty name":                             with("name", ""),
		"unknown level":                          with("level", "MASTER"),
		"malformed date":                         with("releasedOn", "26/03/2019"),
		"retired before release":                 with("retiredOn", "2019-03-25"),
		"no languages":                           with("languages", []string{}),
		"no paths":                               with("requirementPaths", [][]string{}),
		"an empty path":                          with("requirementPaths", [][]string{{"AZ-104"}, {}}),
		"an unknown exam":                        with("requirementPaths", [][]string{{"AZ-104"}, {"ZZ-999"}}),
		"the same path twice":                    with("requirementPaths", [][]string{{"AZ-104"}, {"AZ-104"}}),
		"an unknown prerequisite":                with("prerequisites", []string{"no-such-certification"}),
		"itself as prerequisite":                 with("prerequisites", []string{"azure-administrator-associate"}),
		"a cycle through the DevOps expert":      with("prerequisites", []string{"devops-engineer-expert"}),
		"paths missing entirely (GraphQL)":       {"in": map[string]any{"code": "x", "name": "x", "level": "ASSOCIATE", "releasedOn": "2020-01-01", "languages": []string{"en"}}},
		"a prerequisite of wrong type (GraphQL)": with("prerequisites", []any{map[string]any{}}),
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			e := fails(t, env, admin, upsertCert, vars, "BAD_USER_INPUT")
			if strings.Contains(e.Message, "requirement_paths") || strings.Contains(e.Message, "pq:") {
				t.Errorf("got message %q, want no internal names", e.Message)
			}
		})
	}
	got := readCert(t, env, "azure-administrator-associate")
	if got.Name != "Microsoft Certified: Azure Administrator Associate" || len(got.RequirementPaths) != 2 || len(got.Prerequisites) != 0 {
		t.Fatalf("got %+v, want the shipped certification unchanged", got)
	}
	if rows := audits(t, env); len(rows) != 0 {
		t.Fatalf("got %d audit events, want none", len(rows))
	}
}

func TestConcurrentUpsertsCannotBuildAPrerequisiteCycle(t *testing.T) {
	env := apitest.New(t)
	in := func(code, prereq string) map[string]any {
		m := map[string]any{"code": code, "name": code, "level": "EXPERT", "releasedOn": "2020-01-01",
			"languages": []string{"en"}, "requirementPaths": [][]string{{"AZ-400"}}}
		if prereq != "" {
			m["prerequisites"] = []string{prereq}
		}
		return map[string]any{"in": m}
	}
	for round := range 5 {
		a, b := "cycle-a-"+string(rune('a'+round)), "cycle-b-"+string(rune('a'+round))
		env.MustDo(admin, upsertCert, in(a, ""), nil)
		env.MustDo(admin, upsertCert, in(b, ""), nil)
		codes := make([]string, 2)
		var wg sync.WaitGroup
		for i, vars := range []map[string]any{in(a, b), in(b, a)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := env.Do(admin, upsertCert, vars); len(r.Errors) > 0 {
					codes[i] = r.Errors[0].Code()
				}
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if !slices.Equal(codes, []string{"", "BAD_USER_INPUT"}) {
			t.Fatalf("round %d: got codes %q, want one success and one BAD_USER_INPUT", round, codes)
		}
		var edges int
		if err := env.DB.Get(&edges, `SELECT count(*) FROM certification_prerequisites p JOIN certifications c ON c.id = p.certification_id
WHERE c.code IN ($1, $2)`, a, b); err != nil || edges != 1 {
			t.Fatalf("round %d: got %d prerequisite edges (%v), want 1", round, edges, err)
		}
	}
}
