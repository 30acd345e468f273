package transcript

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
)

func TestCheckExamTaken(t *testing.T) {
	retired := date.MustParse("2021-01-31")
	az103 := catalog.Exam{Code: "AZ-103", RetiredOn: &retired}
	cases := []struct {
		name    string
		exam    catalog.Exam
		takenAt string
		refused bool
	}{
		{"taken on the retirement date is accepted", az103, "2021-01-31T23:59:59Z", false},
		{"taken the day after the retirement date is refused", az103, "2021-02-01T00:00:00Z", true},
		{"taken long before retirement is accepted", az103, "2020-06-01T10:00:00Z", false},
		{"an exam without a retirement date is always accepted", catalog.Exam{Code: "AZ-104"}, "2030-01-01T00:00:00Z", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			taken, _ := time.Parse(time.RFC3339, c.takenAt)
			err := CheckExamTaken(c.exam, taken)
			if !c.refused {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.BadUserInput {
				t.Fatalf("got %v, want BAD_USER_INPUT", err)
			}
			if ae.Extensions["retiredOn"] != "2021-01-31" || ae.Extensions["field"] != "takenAt" {
				t.Fatalf("got extensions %v, want retiredOn 2021-01-31 and field takenAt", ae.Extensions)
			}
		})
	}
}

func TestEarnStopsAtRetirement(t *testing.T) {
	retiredOn := date.MustParse("2021-06-30")
	rules := slices.Clone(testRules)
	for i := range rules {
		if rules[i].Certification.ID == admin.ID {
			rules[i].Certification.RetiredOn = &retiredOn
		}
	}
	cases := []struct {
		name    string
		earlier []string
		records []string
		pass    string
		want    string
	}{
		{name: "earned on the retirement date",
			pass: "AZ-104@2021-06-30", want: "azure-administrator-associate 2021-06-30..2022-06-30"},
		{name: "not earned the day after the retirement date",
			pass: "AZ-104@2021-07-01", want: ""},
		{name: "a late result dated before retirement still earns",
			pass: "AZ-103@2021-03-01", want: "azure-administrator-associate 2021-03-01..2022-03-01"},
		{name: "a retired prerequisite held before retirement still counts for the expert",
			earlier: []string{"AZ-104@2021-06-01"}, records: []string{"azure-administrator-associate 2021-06-01..2022-06-01"},
			pass: "AZ-400@2021-08-01", want: "devops-engineer-expert 2021-08-01..2022-08-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := earnCase(rules, c.earlier, c.records, c.pass); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
