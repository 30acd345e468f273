package catalog

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/date"
)

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return string(apperr.CodeOf(err))
}

func ptr[T any](v T) *T { return &v }

func TestValidateExam(t *testing.T) {
	ok := ExamInput{Code: "AZ-104", Title: "Microsoft Azure Administrator", Languages: []string{"en", "ja"}}
	with := func(f func(*ExamInput)) ExamInput { in := ok; f(&in); return in }
	cases := []struct {
		name string
		in   ExamInput
		want string
	}{
		{"valid exam", ok, ""},
		{"lower-case code is upper-cased", with(func(e *ExamInput) { e.Code = " az-104 " }), ""},
		{"code without hyphen", with(func(e *ExamInput) { e.Code = "AZ104" }), "BAD_USER_INPUT"},
		{"code with two hyphens", with(func(e *ExamInput) { e.Code = "AZ-10-4" }), "BAD_USER_INPUT"},
		{"code with a space", with(func(e *ExamInput) { e.Code = "AZ 104" }), "BAD_USER_INPUT"},
		{"empty title", with(func(e *ExamInput) { e.Title = "  " }), "BAD_USER_INPUT"},
		{"title too long", with(func(e *ExamInput) { e.Title = strings.Repeat("t", 201) }), "BAD_USER_INPUT"},
		{"no languages", with(func(e *ExamInput) { e.Languages = nil }), "BAD_USER_INPUT"},
		{"malformed language", with(func(e *ExamInput) { e.Languages = []string{"en", "english"} }), "BAD_USER_INPUT"},
		{"supersedes itself", with(func(e *ExamInput) { e.Supersedes = ptr("az-104") }), "BAD_USER_INPUT"},
		{"supersedes a malformed code", with(func(e *ExamInput) { e.Supersedes = ptr("AZ103") }), "BAD_USER_INPUT"},
		{"supersedes another exam", with(func(e *ExamInput) { e.Supersedes = ptr("AZ-103") }), ""},
		{"empty supersedes means none", with(func(e *ExamInput) { e.Supersedes = ptr("") }), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ValidateExam(c.in); codeOf(err) != c.want {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
	e, _ := ValidateExam(ExamInput{Code: "az-104", Title: " T ", Languages: []string{"zh-hans", "EN", "en", "pt-br"}, Supersedes: ptr("")})
	if e.Code != "AZ-104" || e.Title != "T" || !slices.Equal(e.Languages, []string{"zh-Hans", "en", "pt-BR"}) || e.Supersedes != nil {
		t.Errorf("got %+v, want code AZ-104, title T, languages [zh-Hans en pt-BR], no supersedes", e)
	}
}

func TestCheckSupersedesRefusesUnknownExamsAndCycles(t *testing.T) {
	// AZ-104 supersedes AZ-103, which supersedes AZ-102.
	chain := map[string]string{"AZ-104": "AZ-103", "AZ-103": "AZ-102", "AZ-102": "", "AZ-900": ""}
	cases := []struct {
		name, code, sup string
		want            string
	}{
		{"new exam superseding the newest", "AZ-105", "AZ-104", ""},
		{"unrelated exam", "AZ-104", "AZ-900", ""},
		{"unknown superseded exam", "AZ-105", "AZ-999", "BAD_USER_INPUT"},
		{"direct cycle: AZ-103 superseding its successor", "AZ-103", "AZ-104", "BAD_USER_INPUT"},
		{"indirect cycle: AZ-102 superseding AZ-104", "AZ-102", "AZ-104", "BAD_USER_INPUT"},
		{"re-stating the current supersedes", "AZ-104", "AZ-103", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := codeOf(CheckSupersedes(c.code, c.sup, chain)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestValidateCertification(t *testing.T) {
	ok := CertificationInput{
		Code: "azure-data-engineer-associate", Name: "Azure Data Engineer", Level: LevelAssociate,
		ReleasedOn: date.MustParse("2019-02-01"), Languages: []string{"en", "ja"},
		RequirementPaths: [][]string{{"DP-203"}, {"DP-200", "DP-201"}},
	}
	with := func(f func(*CertificationInput)) CertificationInput {
		in := ok
		f(&in)
		return in
	}
	cases := []struct {
		name string
		in   CertificationInput
		want string
	}{
		{"valid certification", ok, ""},
		{"code not a slug", with(func(c *CertificationInput) { c.Code = "Azure Data" }), "BAD_USER_INPUT"},
		{"code with a trailing hyphen", with(func(c *CertificationInput) { c.Code = "azure-" }), "BAD_USER_INPUT"},
		{"empty name", with(func(c *CertificationInput) { c.Name = "" }), "BAD_USER_INPUT"},
		{"unknown level", with(func(c *CertificationInput) { c.Level = "MASTER" }), "BAD_USER_INPUT"},
		{"no release date", with(func(c *CertificationInput) { c.ReleasedOn = date.Date{} }), "BAD_USER_INPUT"},
		{"retired 2019-01-31, before release 2019-02-01", with(func(c *CertificationInput) { c.RetiredOn = ptr(date.MustParse("2019-01-31")) }), "BAD_USER_INPUT"},
		{"retired on the release day", with(func(c *CertificationInput) { c.RetiredOn = ptr(date.MustParse("2019-02-01")) }), ""},
		{"no languages", with(func(c *CertificationInput) { c.Languages = []string{} }), "BAD_USER_INPUT"},
		{"no paths", with(func(c *CertificationInput) { c.RequirementPaths = nil }), "BAD_USER_INPUT"},
		{"an empty path", with(func(c *CertificationInput) { c.RequirementPaths = [][]string{{"DP-203"}, {}} }), "BAD_USER_INPUT"},
		{"an exam twice in a path", with(func(c *CertificationInput) { c.RequirementPaths = [][]string{{"DP-200", "dp-200"}} }), "BAD_USER_INPUT"},
		{"the same path twice, in another order", with(func(c *CertificationInput) {
			c.RequirementPaths = [][]string{{"DP-200", "DP-201"}, {"DP-201", "DP-200"}}
		}), "BAD_USER_INPUT"},
		{"a malformed exam code", with(func(c *CertificationInput) { c.RequirementPaths = [][]string{{"DP203"}} }), "BAD_USER_INPUT"},
		{"itself as prerequisite", with(func(c *CertificationInput) { c.Prerequisites = []string{ok.Code} }), "BAD_USER_INPUT"},
		{"a malformed prerequisite", with(func(c *CertificationInput) { c.Prerequisites = []string{"Not A Code"} }), "BAD_USER_INPUT"},
		// The bounds the cost model prices these lists by.
		{"5 paths of 5 exams", with(func(c *CertificationInput) { c.RequirementPaths = examPaths(5, 5) }), ""},
		{"6 paths", with(func(c *CertificationInput) { c.RequirementPaths = examPaths(6, 1) }), "BAD_USER_INPUT"},
		{"6 exams in a path", with(func(c *CertificationInput) { c.RequirementPaths = examPaths(1, 6) }), "BAD_USER_INPUT"},
		{"11 prerequisites", with(func(c *CertificationInput) {
			c.Prerequisites = nil
			for i := 0; i < 11; i++ {
				c.Prerequisites = append(c.Prerequisites, fmt.Sprintf("cert-%d", i))
			}
		}), "BAD_USER_INPUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, _, err := ValidateCertification(c.in); codeOf(err) != c.want {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
	_, paths, prereqs, _ := ValidateCertification(with(func(c *CertificationInput) {
		c.RequirementPaths = [][]string{{"dp-201", "DP-200"}}
		c.Prerequisites = []string{"b-cert", "a-cert", "b-cert"}
	}))
	if len(paths) != 1 || !slices.Equal(paths[0], []string{"DP-200", "DP-201"}) || !slices.Equal(prereqs, []string{"a-cert", "b-cert"}) {
		t.Errorf("got paths %v and prerequisites %v, want [[DP-200 DP-201]] and [a-cert b-cert]", paths, prereqs)
	}
}

func TestPrerequisiteCycle(t *testing.T) {
	// expert needs admin or developer; admin needs fundamentals.
	graph := map[string][]string{
		"expert": {"admin", "developer"},
		"admin":  {"fundamentals"},
	}
	cases := []struct {
		name    string
		code    string
		prereqs []string
		want    []string
	}{
		{"no prerequisites", "developer", nil, nil},
		{"a new expert on existing ones", "architect", []string{"expert", "admin"}, nil},
		{"replacing with the same set", "expert", []string{"admin", "developer"}, nil},
		{"direct cycle", "admin", []string{"expert"}, []string{"admin", "expert", "admin"}},
		{"indirect cycle", "fundamentals", []string{"expert"}, []string{"fundamentals", "expert", "admin", "fundamentals"}},
		{"replacing edges removes an old cycle risk", "expert", []string{"developer"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := PrerequisiteCycle(c.code, c.prereqs, graph); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// examPaths returns n paths of m distinct, well-formed exam codes each.
func examPaths(n, m int) [][]string {
	out := make([][]string, n)
	for i := range out {
		for j := 0; j < m; j++ {
			out[i] = append(out[i], fmt.Sprintf("EX-%d%d", i, j))
		}
	}
	return out
}
