package transcript

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
)

// The test catalog: a slice of the shipped one plus an associate and an expert that share
// one exam.
var (
	admin     = testCert("azure-administrator-associate", catalog.LevelAssociate)
	developer = testCert("azure-developer-associate", catalog.LevelAssociate)
	devops    = testCert("devops-engineer-expert", catalog.LevelExpert)
	dataEng   = testCert("azure-data-engineer-associate", catalog.LevelAssociate)
	architect = testCert("azure-solutions-architect-expert", catalog.LevelExpert)
	fund      = testCert("azure-fundamentals", catalog.LevelFundamentals)
	assocX    = testCert("x-associate", catalog.LevelAssociate)
	expertX   = testCert("x-expert", catalog.LevelExpert)

	testRules = []Rule{
		{Certification: admin, Paths: [][]string{{"AZ-104"}, {"AZ-103"}}},
		{Certification: developer, Paths: [][]string{{"AZ-204"}, {"AZ-203"}}},
		{Certification: devops, Paths: [][]string{{"AZ-400"}}, Prerequisites: []uuid.UUID{admin.ID, developer.ID}},
		{Certification: dataEng, Paths: [][]string{{"DP-203"}, {"DP-200", "DP-201"}}},
		{Certification: architect, Paths: [][]string{{"AZ-303", "AZ-304"}}},
		{Certification: fund, Paths: [][]string{{"AZ-900"}}},
		{Certification: expertX, Paths: [][]string{{"X-100"}}, Prerequisites: []uuid.UUID{assocX.ID}},
		{Certification: assocX, Paths: [][]string{{"X-100"}}},
	}
	codeOf = map[uuid.UUID]string{}
)

func testCert(code string, level catalog.Level) catalog.Certification {
	c := catalog.Certification{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(code)), Code: code, Level: level}
	return c
}

func init() {
	for _, r := range testRules {
		codeOf[r.Certification.ID] = r.Certification.Code
	}
}

// pass parses "AZ-104@2021-03-01".
func pass(s string) Pass {
	exam, day, _ := strings.Cut(s, "@")
	return Pass{Exam: exam, Day: date.MustParse(day)}
}

// rec parses "azure-administrator-associate 2021-01-10..2022-01-10" ("..-" for no expiry,
// a trailing " superseded" for a superseded record).
func rec(s string) Earned {
	f := strings.Fields(s)
	var c catalog.Certification
	for _, r := range testRules {
		if r.Certification.Code == f[0] {
			c = r.Certification
		}
	}
	from, to, _ := strings.Cut(f[1], "..")
	e := Earned{ID: uuid.New(), CertificationID: c.ID, EarnedOn: date.MustParse(from)}
	if to != "-" {
		d := date.MustParse(to)
		e.ExpiresOn = &d
	}
	if len(f) > 2 && f[2] == "superseded" {
		t := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
		e.SupersededAt, e.SupersededBy = &t, &e.ID
	}
	return e
}

func show(list []Earned) string {
	var parts []string
	for _, e := range list {
		to := "-"
		if e.ExpiresOn != nil {
			to = e.ExpiresOn.String()
		}
		parts = append(parts, fmt.Sprintf("%s %s..%s", codeOf[e.CertificationID], e.EarnedOn, to))
	}
	return strings.Join(parts, "; ")
}

func TestEarn(t *testing.T) {
	cases := []struct {
		name    string
		earlier []string // passes recorded before, as EXAM@day
		records []string // existing earned records
		pass    string   // the new pass
		want    string   // what it newly earns, in order
	}{
		// Paths.
		{name: "a single-exam path earns on the day for one year",
			pass: "AZ-104@2021-03-10", want: "azure-administrator-associate 2021-03-10..2022-03-10"},
		{name: "any one path: the older exam of the other path earns too",
			pass: "AZ-103@2020-05-04", want: "azure-administrator-associate 2020-05-04..2021-05-04"},
		{name: "one exam of a two-exam path earns nothing",
			pass: "DP-200@2021-01-05", want: ""},
		{name: "a two-exam path is earned on the day of its second pass",
			earlier: []string{"DP-200@2021-01-05"},
			pass:    "DP-201@2021-02-10", want: "azure-data-engineer-associate 2021-02-10..2022-02-10"},
		{name: "two exams of different paths do not make a path",
			earlier: []string{"AZ-303@2021-01-05"},
			pass:    "DP-201@2021-02-10", want: ""},
		{name: "passing both exams of a path on the same day earns that day",
			earlier: []string{"AZ-303@2021-04-01"},
			pass:    "AZ-304@2021-04-01", want: "azure-solutions-architect-expert 2021-04-01..2022-04-01"},

		// Dates: one year, clamped to the month's end.
		{name: "earned on 29 Feb 2024 expires on 28 Feb 2025",
			pass: "AZ-104@2024-02-29", want: "azure-administrator-associate 2024-02-29..2025-02-28"},
		{name: "earned on 31 Aug 2020 expires on 31 Aug 2021",
			pass: "AZ-104@2020-08-31", want: "azure-administrator-associate 2020-08-31..2021-08-31"},
		{name: "fundamentals never expire",
			pass: "AZ-900@2021-03-01", want: "azure-fundamentals 2021-03-01..-"},

		// Pass while held.
		{name: "a retake while held changes nothing",
			earlier: []string{"AZ-104@2021-01-10"}, records: []string{"azure-administrator-associate 2021-01-10..2022-01-10"},
			pass: "AZ-104@2021-06-01", want: ""},
		{name: "the newer exam (AZ-104 after AZ-103) while held changes nothing",
			earlier: []string{"AZ-103@2020-08-31"}, records: []string{"azure-administrator-associate 2020-08-31..2021-08-31"},
			pass: "AZ-104@2021-08-30", want: ""},
		{name: "a pass on the same day as the earning changes nothing",
			earlier: []string{"AZ-103@2021-03-01"}, records: []string{"azure-administrator-associate 2021-03-01..2022-03-01"},
			pass: "AZ-104@2021-03-01", want: ""},
		{name: "a renewed expiry still holds",
			earlier: []string{"AZ-104@2020-01-10"}, records: []string{"azure-administrator-associate 2020-01-10..2022-01-10"},
			pass: "AZ-104@2021-06-01", want: ""},
		{name: "fundamentals are held forever: a later pass changes nothing",
			earlier: []string{"AZ-900@2019-01-01"}, records: []string{"azure-fundamentals 2019-01-01..-"},
			pass: "AZ-900@2025-01-01", want: ""},

		// Re-earning after expiry.
		{name: "after expiry a pass earns a new record",
			earlier: []string{"AZ-104@2020-01-10"}, records: []string{"azure-administrator-associate 2020-01-10..2021-01-10"},
			pass: "AZ-104@2021-02-01", want: "azure-administrator-associate 2021-02-01..2022-02-01"},
		{name: "expired from the expiry day on: a pass on 31 Aug earns again",
			earlier: []string{"AZ-104@2020-08-31"}, records: []string{"azure-administrator-associate 2020-08-31..2021-08-31"},
			pass: "AZ-104@2021-08-31", want: "azure-administrator-associate 2021-08-31..2022-08-31"},
		{name: "after expiry one exam of a two-exam path is not enough: passes before the earning do not count",
			earlier: []string{"DP-200@2020-01-05", "DP-201@2020-01-10"},
			records: []string{"azure-data-engineer-associate 2020-01-10..2021-01-10"},
			pass:    "DP-201@2021-03-01", want: ""},
		{name: "after expiry both exams passed again earn a new record",
			earlier: []string{"DP-200@2020-01-05", "DP-201@2020-01-10", "DP-200@2021-02-01"},
			records: []string{"azure-data-engineer-associate 2020-01-10..2021-01-10"},
			pass:    "DP-201@2021-03-01", want: "azure-data-engineer-associate 2021-03-01..2022-03-01"},
		{name: "a pass after the earning, made while held, counts towards earning again after expiry",
			earlier: []string{"DP-200@2020-01-05", "DP-201@2020-01-10", "DP-200@2020-06-01"},
			records: []string{"azure-data-engineer-associate 2020-01-10..2021-01-10"},
			pass:    "DP-201@2021-03-01", want: "azure-data-engineer-associate 2021-03-01..2022-03-01"},
		{name: "a superseded record does not hold",
			earlier: []string{"AZ-104@2021-01-10"}, records: []string{"azure-administrator-associate 2021-01-10..2022-01-10 superseded"},
			pass: "AZ-104@2021-06-01", want: "azure-administrator-associate 2021-06-01..2022-06-01"},

		// Prerequisites.
		{name: "an expert needs a prerequisite: none held, nothing earned",
			pass: "AZ-400@2021-03-01", want: ""},
		{name: "an expert is earned with its prerequisite held on the day",
			earlier: []string{"AZ-104@2021-01-10"}, records: []string{"azure-administrator-associate 2021-01-10..2022-01-10"},
			pass: "AZ-400@2021-03-01", want: "devops-engineer-expert 2021-03-01..2022-03-01"},
		{name: "any one prerequisite is enough",
			earlier: []string{"AZ-204@2021-01-10"}, records: []string{"azure-developer-associate 2021-01-10..2022-01-10"},
			pass: "AZ-400@2021-03-01", want: "devops-engineer-expert 2021-03-01..2022-03-01"},
		{name: "a prerequisite held on its last day counts",
			earlier: []string{"AZ-104@2020-01-10"}, records: []string{"azure-administrator-associate 2020-01-10..2021-01-10"},
			pass: "AZ-400@2021-01-09", want: "devops-engineer-expert 2021-01-09..2022-01-09"},
		{name: "a prerequisite expired on the day does not count",
			earlier: []string{"AZ-104@2020-01-10"}, records: []string{"azure-administrator-associate 2020-01-10..2021-01-10"},
			pass: "AZ-400@2021-01-10", want: ""},
		{name: "a superseded prerequisite does not count",
			earlier: []string{"AZ-104@2021-01-10"}, records: []string{"azure-administrator-associate 2021-01-10..2022-01-10 superseded"},
			pass: "AZ-400@2021-03-01", want: ""},
		{name: "a prerequisite earned after the expert exam's day does not count",
			earlier: []string{"AZ-104@2021-03-05"}, records: []string{"azure-administrator-associate 2021-03-05..2022-03-05"},
			pass: "AZ-400@2021-03-01", want: ""},
		{name: "an expert exam passed before its prerequisite is not earned when the prerequisite comes",
			earlier: []string{"AZ-400@2021-02-01"},
			pass:    "AZ-104@2021-03-01", want: "azure-administrator-associate 2021-03-01..2022-03-01"},
		{name: "an expert passed the day its associate is earned counts (associate first)",
			earlier: []string{"AZ-400@2021-03-01"},
			pass:    "AZ-104@2021-03-01",
			want:    "azure-administrator-associate 2021-03-01..2022-03-01; devops-engineer-expert 2021-03-01..2022-03-01"},
		{name: "one pass completing an associate and its expert earns both, associate first",
			pass: "X-100@2021-03-01",
			want: "x-associate 2021-03-01..2022-03-01; x-expert 2021-03-01..2022-03-01"},
		{name: "an expert outlives its prerequisite's expiry: it is not re-evaluated",
			earlier: []string{"AZ-104@2020-01-10", "AZ-400@2020-06-01"},
			records: []string{"azure-administrator-associate 2020-01-10..2021-01-10", "devops-engineer-expert 2020-06-01..2021-06-01"},
			pass:    "AZ-104@2021-03-01", want: "azure-administrator-associate 2021-03-01..2022-03-01"},

		// Results arriving out of order.
		{name: "late first exam of a two-exam path: earned on the day of the second pass",
			earlier: []string{"DP-201@2021-02-10"},
			pass:    "DP-200@2021-01-05", want: "azure-data-engineer-associate 2021-02-10..2022-02-10"},
		{name: "a late pass completing a path before an existing record starts changes nothing",
			earlier: []string{"DP-200@2021-01-05", "DP-201@2021-02-10"},
			records: []string{"azure-data-engineer-associate 2021-02-10..2022-02-10"},
			pass:    "DP-201@2021-01-20", want: ""},
		{name: "a late single pass before an existing record, overlapping it, changes nothing",
			earlier: []string{"AZ-104@2021-06-01"}, records: []string{"azure-administrator-associate 2021-06-01..2022-06-01"},
			pass: "AZ-104@2021-01-15", want: ""},
		{name: "a late pass a cycle before an existing record earns an earlier record",
			earlier: []string{"AZ-104@2021-06-01"}, records: []string{"azure-administrator-associate 2021-06-01..2022-06-01"},
			pass: "AZ-104@2020-01-15", want: "azure-administrator-associate 2020-01-15..2021-01-15"},
		{name: "a late pass is evaluated as of its own day: a later expiry does not make it a re-earning",
			earlier: []string{"AZ-104@2020-01-10"}, records: []string{"azure-administrator-associate 2020-01-10..2021-01-10"},
			pass: "AZ-103@2020-12-01", want: ""},
		{name: "a late prerequisite earns the expert on the later day its exam was passed",
			earlier: []string{"AZ-400@2021-03-10"},
			pass:    "AZ-104@2021-03-01",
			want:    "azure-administrator-associate 2021-03-01..2022-03-01; devops-engineer-expert 2021-03-10..2022-03-10"},
		{name: "a late prerequisite after the expert exam's day does not earn the expert",
			earlier: []string{"AZ-400@2021-03-10"},
			pass:    "AZ-104@2021-03-20", want: "azure-administrator-associate 2021-03-20..2022-03-20"},
		{name: "a late fundamentals pass before the existing record changes nothing",
			earlier: []string{"AZ-900@2021-05-01"}, records: []string{"azure-fundamentals 2021-05-01..-"},
			pass: "AZ-900@2019-05-01", want: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := earnCase(testRules, c.earlier, c.records, c.pass); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// earnCase runs Earn for the new pass p (EXAM@day) with the earlier passes and records, as
// the tables write them, and shows what it earns.
func earnCase(rules []Rule, earlier, records []string, p string) string {
	newPass := pass(p)
	passes := []Pass{newPass}
	for _, s := range earlier {
		passes = append(passes, pass(s))
	}
	var recs []Earned
	for _, s := range records {
		recs = append(recs, rec(s))
	}
	return show(Earn(newPass, rules, passes, recs))
}

// TestEarnInDateOrderEqualsAnyOrder checks the out-of-order rule end to end: recording the
// passes of a history in any order earns the same records as recording them in date order,
// when no earning would overlap another.
func TestEarnInDateOrderEqualsAnyOrder(t *testing.T) {
	history := []string{"AZ-400@2021-03-10", "DP-200@2021-01-05", "AZ-104@2021-03-01", "DP-201@2021-02-10", "AZ-900@2021-04-01"}
	want := "azure-administrator-associate 2021-03-01..2022-03-01; azure-data-engineer-associate 2021-02-10..2022-02-10; " +
		"azure-fundamentals 2021-04-01..-; devops-engineer-expert 2021-03-10..2022-03-10"
	permute(history, func(order []string) {
		var passes []Pass
		var records []Earned
		for _, s := range order {
			p := pass(s)
			passes = append(passes, p)
			records = append(records, Earn(p, testRules, passes, records)...)
		}
		if got := sorted(records); got != want {
			t.Fatalf("order %v: got %q, want %q", order, got, want)
		}
	})
}

func sorted(list []Earned) string {
	parts := strings.Split(show(list), "; ")
	for i := range parts {
		for j := i + 1; j < len(parts); j++ {
			if parts[j] < parts[i] {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
	}
	return strings.Join(parts, "; ")
}

func permute(items []string, f func([]string)) {
	var rec func(k int)
	rec = func(k int) {
		if k == len(items) {
			f(append([]string(nil), items...))
			return
		}
		for i := k; i < len(items); i++ {
			items[k], items[i] = items[i], items[k]
			rec(k + 1)
			items[k], items[i] = items[i], items[k]
		}
	}
	rec(0)
}

func TestDependencyOrderPutsPrerequisitesFirst(t *testing.T) {
	var got []string
	for _, r := range dependencyOrder(testRules) {
		got = append(got, r.Certification.Code)
	}
	pos := map[string]int{}
	for i, c := range got {
		pos[c] = i
	}
	for _, pair := range [][2]string{{"azure-administrator-associate", "devops-engineer-expert"},
		{"azure-developer-associate", "devops-engineer-expert"}, {"x-associate", "x-expert"}} {
		if pos[pair[0]] > pos[pair[1]] {
			t.Fatalf("got order %v, want %s before %s", got, pair[0], pair[1])
		}
	}
}
