package seed

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func mustCert(t *testing.T, c *Catalog, code string) *Certification {
	t.Helper()
	cert := c.Certification(code)
	if cert == nil {
		t.Fatalf("certification %q not in catalog", code)
	}
	return cert
}

func TestLoadCounts(t *testing.T) {
	c := mustLoad(t)
	if got := len(c.Certifications); got != 23 {
		t.Errorf("certifications = %d, want 23", got)
	}
	var fundamentals, assessments int
	for _, cert := range c.Certifications {
		if cert.Level == LevelFundamentals {
			fundamentals++
		}
		if cert.RenewalAssessment != nil {
			assessments++
		}
	}
	if fundamentals != 4 {
		t.Errorf("fundamentals = %d, want 4", fundamentals)
	}
	if assessments != 19 {
		t.Errorf("renewal assessments = %d, want 19", assessments)
	}
	for _, code := range []string{"azure-fundamentals", "azure-ai-fundamentals", "azure-data-fundamentals", "microsoft-365-fundamentals"} {
		if cert := mustCert(t, c, code); cert.Level != LevelFundamentals || cert.RenewalAssessment != nil {
			t.Errorf("%s: level %s, assessment %v; want FUNDAMENTALS without assessment", code, cert.Level, cert.RenewalAssessment != nil)
		}
	}
	for _, code := range []string{"AZ-104", "AZ-103", "AZ-204", "AZ-203", "AZ-500", "AZ-400", "AZ-303", "AZ-304",
		"AZ-300", "AZ-301", "AI-102", "AI-100", "DP-203", "DP-200", "DP-201", "DP-100", "MD-100", "MD-101",
		"MS-203", "MS-500", "MS-100", "MS-101", "MB-220", "MB-320", "MB-300", "MB-210", "MB-230", "MB-240",
		"MB-310", "MB-330", "AZ-900", "AI-900", "DP-900", "MS-900"} {
		if c.Exam(code) == nil {
			t.Errorf("exam %s missing", code)
		}
	}
	if e := c.Exam("AZ-104"); e != nil && (e.Supersedes == nil || *e.Supersedes != "AZ-103") {
		t.Errorf("AZ-104 supersedes %v, want AZ-103", e.Supersedes)
	}
}

func TestRequirementPathsAndPrerequisites(t *testing.T) {
	c := mustLoad(t)
	cases := []struct {
		code  string
		paths [][]string
		pre   []string
	}{
		{"azure-administrator-associate", [][]string{{"AZ-104"}, {"AZ-103"}}, nil},
		{"azure-data-engineer-associate", [][]string{{"DP-203"}, {"DP-200", "DP-201"}}, nil},
		{"azure-solutions-architect-expert", [][]string{{"AZ-303", "AZ-304"}, {"AZ-300", "AZ-301"}}, nil},
		{"devops-engineer-expert", [][]string{{"AZ-400"}}, []string{"azure-administrator-associate", "azure-developer-associate"}},
		{"enterprise-administrator-expert", [][]string{{"MS-100", "MS-101"}},
			[]string{"messaging-administrator-associate", "modern-desktop-administrator-associate", "security-administrator-associate"}},
	}
	for _, tc := range cases {
		cert := mustCert(t, c, tc.code)
		if !slices.EqualFunc(cert.RequirementPaths, tc.paths, slices.Equal) {
			t.Errorf("%s paths = %v, want %v", tc.code, cert.RequirementPaths, tc.paths)
		}
		got := slices.Sorted(slices.Values(cert.Prerequisites))
		if !slices.Equal(got, tc.pre) {
			t.Errorf("%s prerequisites = %v, want %v", tc.code, got, tc.pre)
		}
	}
}

func TestQuestionBanks(t *testing.T) {
	c := mustLoad(t)
	for _, cert := range c.Certifications {
		a := cert.RenewalAssessment
		if a == nil {
			continue
		}
		if a.PassingScore != 60 {
			t.Errorf("%s passing score = %d, want 60", cert.Code, a.PassingScore)
		}
		if n := len(a.LearningModules); n < 3 || n > 5 {
			t.Errorf("%s has %d learning modules, want 3-5", cert.Code, n)
		}
		if !slices.Equal(a.Languages, cert.Languages) {
			t.Errorf("%s assessment languages %v, certification languages %v", cert.Code, a.Languages, cert.Languages)
		}
		if len(a.Questions) < 10 {
			t.Errorf("%s bank has %d questions, want >= 10", cert.Code, len(a.Questions))
		}
		multi := 0
		for i, q := range a.Questions {
			if q.MultipleAnswer() {
				multi++
			}
			if n := len(q.Choices); n < 3 || n > 5 {
				t.Errorf("%s question %d has %d choices, want 3-5", cert.Code, i, n)
			}
		}
		if multi < 3 {
			t.Errorf("%s bank has %d multi-answer questions, want >= 3", cert.Code, multi)
		}
	}
}

func TestLanguages(t *testing.T) {
	c := mustLoad(t)
	wide := 0
	for _, cert := range c.Certifications {
		if len(cert.Languages) > 2 {
			wide++
		}
		// An exam is offered in at least the languages of every certification it counts towards.
		for _, path := range cert.RequirementPaths {
			for _, code := range path {
				for _, l := range cert.Languages {
					if !slices.Contains(c.Exam(code).Languages, l) {
						t.Errorf("%s: exam %s lacks language %s", cert.Code, code, l)
					}
				}
			}
		}
	}
	if wide < len(c.Certifications)/2 {
		t.Errorf("only %d certifications offer more than en and ja", wide)
	}
}

func TestValidateRejectsBrokenCatalogs(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Catalog)
		want   string
	}{
		{"unknown exam in a path", func(c *Catalog) {
			c.Certification("azure-administrator-associate").RequirementPaths[0] = []string{"AZ-999"}
		}, `unknown exam "AZ-999"`},
		{"prerequisite cycle", func(c *Catalog) {
			a := c.Certification("azure-administrator-associate")
			a.Prerequisites = append(a.Prerequisites, "devops-engineer-expert")
		}, "prerequisite cycle"},
		{"self prerequisite", func(c *Catalog) {
			a := c.Certification("azure-data-scientist-associate")
			a.Prerequisites = []string{"azure-data-scientist-associate"}
		}, "prerequisite cycle"},
		{"unknown prerequisite", func(c *Catalog) {
			c.Certification("devops-engineer-expert").Prerequisites = []string{"nope"}
		}, `unknown certification "nope"`},
		{"bank too small", func(c *Catalog) {
			a := c.Certification("azure-developer-associate").RenewalAssessment
			a.Questions = a.Questions[:9]
		}, "fewer than 10"},
		{"bank smaller than an attempt", func(c *Catalog) {
			c.Certification("azure-developer-associate").RenewalAssessment.QuestionsPerAttempt = 50
		}, "fewer than questionsPerAttempt 50"},
		{"question without a correct choice", func(c *Catalog) {
			q := &c.Certification("azure-developer-associate").RenewalAssessment.Questions[0]
			for i := range q.Choices {
				q.Choices[i].Correct = false
			}
		}, "no correct choice"},
		{"question without an incorrect choice", func(c *Catalog) {
			q := &c.Certification("azure-developer-associate").RenewalAssessment.Questions[0]
			for i := range q.Choices {
				q.Choices[i].Correct = true
			}
		}, "no incorrect choice"},
		{"fundamentals with an assessment", func(c *Catalog) {
			c.Certification("azure-fundamentals").RenewalAssessment = c.Certification("azure-developer-associate").RenewalAssessment
		}, "fundamentals certification has a renewal assessment"},
		{"renewable without an assessment", func(c *Catalog) {
			c.Certification("azure-developer-associate").RenewalAssessment = nil
		}, "has no renewal assessment"},
		{"duplicate certification code", func(c *Catalog) {
			c.Certifications = append(c.Certifications, c.Certifications[0])
		}, "duplicate code"},
		{"duplicate exam code", func(c *Catalog) {
			c.Exams = append(c.Exams, c.Exams[0])
		}, "duplicate code"},
		{"missing ja", func(c *Catalog) {
			c.Certification("azure-security-engineer-associate").Languages = []string{"en"}
		}, `languages do not include "ja"`},
		{"bad date", func(c *Catalog) {
			c.Certification("azure-security-engineer-associate").ReleasedOn = "2019-13-01"
		}, "not a YYYY-MM-DD date"},
		{"supersedes unknown exam", func(c *Catalog) {
			s := "AZ-100"
			c.Exam("AZ-104").Supersedes = &s
		}, `supersedes unknown exam "AZ-100"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t)
			tc.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted a broken catalog")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	if _, err := parse([]byte(`{"exams":[],"certifications":[],"extra":1}`)); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("parse with an unknown field: err = %v, want unknown field", err)
	}
	if _, err := parse([]byte(`{"exams":[],"certifications":[]} {}`)); err == nil {
		t.Error("parse accepted trailing data")
	}
}

func TestValidateReportsCyclePath(t *testing.T) {
	c := mustLoad(t)
	a := c.Certification("azure-administrator-associate")
	a.Prerequisites = []string{"devops-engineer-expert"}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "azure-administrator-associate devops-engineer-expert azure-administrator-associate") {
		t.Errorf("Validate = %v, want the cycle spelled out", err)
	}
}

// TestJapaneseText: questions_ja.json translates the banks it names (azure-administrator-
// associate at least), question by question and choice by choice; those assessments offer en
// and ja, the others English only until translated.
func TestJapaneseText(t *testing.T) {
	c := mustLoad(t)
	for _, cert := range c.Certifications {
		a := cert.RenewalAssessment
		if a == nil {
			continue
		}
		translated := len(a.Questions[0].Translations) > 0
		for i, q := range a.Questions {
			if translated && (len(q.Translations) != 1 || q.Translations[0].Language != "ja" ||
				len(q.Translations[0].Choices) != len(q.Choices) || q.Translations[0].Prompt == q.Prompt) {
				t.Errorf("%s question %d: got translations %+v, want one ja text per choice", cert.Code, i, q.Translations)
			}
		}
		want := []string{"en"}
		if translated {
			want = []string{"en", "ja"}
		}
		if got := a.OfferedLanguages(); !slices.Equal(got, want) {
			t.Errorf("%s offers %v, want %v", cert.Code, got, want)
		}
	}
	if got := c.Certification("azure-administrator-associate").RenewalAssessment.OfferedLanguages(); !slices.Equal(got, []string{"en", "ja"}) {
		t.Errorf("azure-administrator-associate offers %v, want en and ja", got)
	}
	for name, data := range map[string]string{
		"unknown certification": `{"no-such-cert": []}`,
		"too few questions":     `{"azure-administrator-associate": [{"prompt": "問", "choices": ["一", "二"]}]}`,
		"unknown field":         `{"azure-administrator-associate": [{"text": "問"}]}`,
	} {
		if err := mustLoad(t).translate("ja", []byte(data)); err == nil {
			t.Errorf("%s: translate accepted %s", name, data)
		}
	}
}
