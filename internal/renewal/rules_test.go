package renewal

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

func d(s string) date.Date { return date.MustParse(s) }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// base is an associate certification released 2019-05-06 (renewal available from
// 2019-11-06), earned 2020-08-31, expiring 2021-08-31 (window opens 2021-02-28), linked, with
// an assessment in en and ja and no attempts.
func base() Facts {
	return Facts{
		Earned: transcript.Earned{ID: uuid.New(), EarnedOn: d("2020-08-31"), ExpiresOn: ptr(d("2021-08-31"))},
		Certification: catalog.Certification{Code: "azure-administrator-associate", Level: catalog.LevelAssociate,
			ReleasedOn: d("2019-05-06")},
		Assessment: &catalog.Assessment{ID: uuid.New(), Version: 1, Languages: []string{"en", "ja"}, PassingScore: 60, QuestionCount: 8},
		Linked:     true,
	}
}

func attempt(cycle string, started string, submitted string) Attempt {
	a := Attempt{ID: uuid.New(), CycleExpiresOn: d(cycle), StartedAt: at(started)}
	if submitted != "" {
		a.SubmittedAt, a.Score, a.Passed = ptr(at(submitted)), ptr(10), ptr(false)
	}
	return a
}

func TestCheck(t *testing.T) {
	inProgress := attempt("2021-08-31", "2021-03-01T09:00:00Z", "")
	cases := []struct {
		name  string
		edit  func(f *Facts)
		lang  *string
		now   string
		code  apperr.Code // "" when allowed
		ext   string      // extension key to compare
		value any
	}{
		{name: "inside the window, linked, no attempts: allowed", now: "2021-03-01T09:00:00Z"},
		{name: "window opens 31 Aug minus 6 months = 28 Feb", now: "2021-02-28T00:00:00Z"},
		{name: "the day before the clamped window start is refused", now: "2021-02-27T23:59:59Z",
			code: apperr.RenewalWindowNotOpen, ext: "windowOpensOn", value: "2021-02-28"},
		{name: "last day before expiry is allowed", now: "2021-08-30T23:59:59Z"},
		{name: "on the expiry date it is expired", now: "2021-08-31T00:00:00Z", code: apperr.CertificationExpired},
		{name: "fundamentals are not renewable", now: "2021-03-01T09:00:00Z", code: apperr.NotRenewable,
			edit: func(f *Facts) { f.Certification.Level = catalog.LevelFundamentals; f.Earned.ExpiresOn = nil }},
		{name: "no assessment is not renewable", now: "2021-03-01T09:00:00Z", code: apperr.NotRenewable,
			edit: func(f *Facts) { f.Assessment = nil }},
		{name: "superseded is not renewable, even inside the window", now: "2021-03-01T09:00:00Z", code: apperr.NotRenewable,
			edit: func(f *Facts) { f.Earned.SupersededAt = ptr(at("2021-01-01T00:00:00Z")) }},
		{name: "retired 2021-04-30: renewable on the retirement date", now: "2021-04-30T23:59:59Z",
			edit: func(f *Facts) { f.Certification.RetiredOn = ptr(d("2021-04-30")) }},
		{name: "retired 2021-04-30: not renewable the day after, naming the date", now: "2021-05-01T00:00:00Z",
			code: apperr.NotRenewable, ext: "retiredOn", value: "2021-04-30",
			edit: func(f *Facts) { f.Certification.RetiredOn = ptr(d("2021-04-30")) }},
		{name: "retired comes before not linked and the window", now: "2021-01-01T00:00:00Z",
			code: apperr.NotRenewable, ext: "retiredOn", value: "2020-12-31",
			edit: func(f *Facts) { f.Certification.RetiredOn = ptr(d("2020-12-31")); f.Linked = false }},
		{name: "released 2021-01-31: not available before 2021-07-31", now: "2021-07-30T23:00:00Z",
			code: apperr.RenewalNotAvailableYet, ext: "availableFrom", value: "2021-07-31",
			edit: func(f *Facts) { f.Certification.ReleasedOn = d("2021-01-31") }},
		{name: "released 2021-01-31: available on 2021-07-31", now: "2021-07-31T00:00:00Z",
			edit: func(f *Facts) { f.Certification.ReleasedOn = d("2021-01-31") }},
		{name: "not available yet comes before expired", now: "2021-09-01T00:00:00Z", code: apperr.RenewalNotAvailableYet,
			edit: func(f *Facts) { f.Certification.ReleasedOn = d("2021-06-01") }},
		{name: "expired comes before not linked", now: "2021-09-01T00:00:00Z", code: apperr.CertificationExpired,
			edit: func(f *Facts) { f.Linked = false }},
		{name: "window comes before not linked", now: "2021-01-01T00:00:00Z", code: apperr.RenewalWindowNotOpen,
			ext: "windowOpensOn", value: "2021-02-28", edit: func(f *Facts) { f.Linked = false }},
		{name: "not linked", now: "2021-03-01T09:00:00Z", code: apperr.ProfileNotLinked,
			edit: func(f *Facts) { f.Linked = false }},
		{name: "not linked comes before the language", now: "2021-03-01T09:00:00Z", lang: ptr("it"),
			code: apperr.ProfileNotLinked, edit: func(f *Facts) { f.Linked = false }},
		{name: "language not offered lists the offered ones", now: "2021-03-01T09:00:00Z", lang: ptr("it"),
			code: apperr.LanguageNotAvailable, ext: "availableLanguages", value: []string{"en", "ja"}},
		{name: "language matches regardless of case", now: "2021-03-01T09:00:00Z", lang: ptr("JA")},
		{name: "language comes before the attempt in progress", now: "2021-03-01T09:00:00Z", lang: ptr("it"),
			code: apperr.LanguageNotAvailable, ext: "availableLanguages", value: []string{"en", "ja"},
			edit: func(f *Facts) { f.Attempts = []Attempt{inProgress} }},
		{name: "an attempt in progress names itself", now: "2021-03-02T09:00:00Z", code: apperr.AttemptInProgress,
			ext: "attemptId", value: inProgress.ID, edit: func(f *Facts) { f.Attempts = []Attempt{inProgress} }},
		{name: "second attempt may follow a failed first at once", now: "2021-03-01T10:00:00Z",
			edit: func(f *Facts) {
				f.Attempts = []Attempt{attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:59:59Z")}
			}},
		{name: "third attempt waits 24 h after the second submission", now: "2021-03-02T10:29:59Z",
			code: apperr.RetakeWait, ext: "retryAt", value: "2021-03-02T10:30:00Z",
			edit: func(f *Facts) {
				f.Attempts = []Attempt{
					attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:30:00Z"),
					attempt("2021-08-31", "2021-03-01T10:00:00Z", "2021-03-01T10:30:00Z"),
				}
			}},
		{name: "third attempt allowed exactly 24 h after the second submission", now: "2021-03-02T10:30:00Z",
			edit: func(f *Facts) {
				f.Attempts = []Attempt{
					attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:30:00Z"),
					attempt("2021-08-31", "2021-03-01T10:00:00Z", "2021-03-01T10:30:00Z"),
				}
			}},
		{name: "fourth attempt waits 24 h after the third submission", now: "2021-03-03T11:00:00Z",
			code: apperr.RetakeWait, ext: "retryAt", value: "2021-03-03T12:00:00Z",
			edit: func(f *Facts) {
				f.Attempts = []Attempt{
					attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:30:00Z"),
					attempt("2021-08-31", "2021-03-01T10:00:00Z", "2021-03-01T10:30:00Z"),
					attempt("2021-08-31", "2021-03-02T11:00:00Z", "2021-03-02T12:00:00Z"),
				}
			}},
		{name: "the count restarts each cycle", now: "2021-03-01T10:00:00Z",
			edit: func(f *Facts) {
				f.Attempts = []Attempt{
					attempt("2020-08-31", "2020-08-01T09:00:00Z", "2020-08-01T09:30:00Z"),
					attempt("2020-08-31", "2020-08-01T10:00:00Z", "2020-08-01T10:30:00Z"),
					attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:30:00Z"),
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			if c.edit != nil {
				c.edit(&f)
			}
			err := Check(f, c.lang, at(c.now))
			if c.lang == nil {
				// RenewalStatus uses the same rule: it must give the same answer.
				st := StatusOf(f, at(c.now))
				if got := str(st.Reason); st.Eligible != (err == nil) || (err != nil && got != string(apperr.CodeOf(err))) {
					t.Fatalf("status disagrees with start: got eligible %v reason %s, start gave %v", st.Eligible, got, err)
				}
			}
			if c.code == "" {
				if err != nil {
					t.Fatalf("got %v, want allowed", err)
				}
				return
			}
			if got := apperr.CodeOf(err); got != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
			if c.ext != "" {
				var ae *apperr.Error
				_ = errors.As(err, &ae)
				if got := ae.Extensions[c.ext]; !reflect.DeepEqual(got, c.value) {
					t.Fatalf("got %s = %#v, want %#v", c.ext, got, c.value)
				}
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	f := base()
	f.Attempts = []Attempt{
		attempt("2020-08-31", "2020-08-01T09:00:00Z", "2020-08-01T09:30:00Z"), // last cycle: not counted
		attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:30:00Z"),
		attempt("2021-08-31", "2021-03-01T10:00:00Z", "2021-03-01T10:30:00Z"),
	}
	st := StatusOf(f, at("2021-03-01T11:00:00Z"))
	if st.Eligible || st.Reason == nil || *st.Reason != "RETAKE_WAIT" {
		t.Fatalf("got eligible %v reason %v, want RETAKE_WAIT", st.Eligible, st.Reason)
	}
	if st.AttemptsThisCycle != 2 {
		t.Errorf("got attemptsThisCycle %d, want 2", st.AttemptsThisCycle)
	}
	if st.NextAttemptAt == nil || !st.NextAttemptAt.Equal(at("2021-03-02T10:30:00Z")) {
		t.Errorf("got nextAttemptAt %v, want 2021-03-02T10:30:00Z", st.NextAttemptAt)
	}
	if st.WindowOpensOn == nil || *st.WindowOpensOn != d("2021-02-28") || st.Deadline == nil || *st.Deadline != d("2021-08-31") {
		t.Errorf("got window %v deadline %v, want 2021-02-28 and 2021-08-31", st.WindowOpensOn, st.Deadline)
	}
	st = StatusOf(f, at("2021-03-02T10:30:00Z"))
	if !st.Eligible || st.Reason != nil || st.NextAttemptAt != nil {
		t.Errorf("after the wait: got eligible %v reason %v next %v, want eligible, no reason, no next", st.Eligible, st.Reason, st.NextAttemptAt)
	}

	retired := base()
	retired.Certification.RetiredOn = ptr(d("2021-04-30"))
	st = StatusOf(retired, at("2021-03-01T09:00:00Z"))
	if !st.Eligible || st.RetiredOn == nil || *st.RetiredOn != d("2021-04-30") || st.Deadline == nil {
		t.Errorf("before retirement: got %+v, want eligible with retiredOn 2021-04-30 and the deadline", st)
	}
	st = StatusOf(retired, at("2021-05-01T09:00:00Z"))
	if st.Eligible || str(st.Reason) != "NOT_RENEWABLE" || st.RetiredOn == nil || *st.RetiredOn != d("2021-04-30") ||
		st.WindowOpensOn != nil || st.Deadline != nil {
		t.Errorf("after retirement: got %+v, want NOT_RENEWABLE with retiredOn 2021-04-30, no window or deadline", st)
	}

	fund := base()
	fund.Certification.Level, fund.Earned.ExpiresOn, fund.Assessment = catalog.LevelFundamentals, nil, nil
	st = StatusOf(fund, at("2021-03-01T09:00:00Z"))
	if st.Eligible || *st.Reason != "NOT_RENEWABLE" || st.WindowOpensOn != nil || st.Deadline != nil {
		t.Errorf("fundamentals: got %+v, want NOT_RENEWABLE without window or deadline", st)
	}

	renewed := base()
	renewed.Earned.ExpiresOn = ptr(d("2022-08-31"))
	renewed.Attempts = []Attempt{attempt("2021-08-31", "2021-03-01T09:00:00Z", "2021-03-01T09:30:00Z")}
	st = StatusOf(renewed, at("2021-03-01T10:00:00Z"))
	if st.Eligible || *st.Reason != "RENEWAL_WINDOW_NOT_OPEN" || *st.WindowOpensOn != d("2022-02-28") || st.AttemptsThisCycle != 0 {
		t.Errorf("after a renewal: got %+v, want RENEWAL_WINDOW_NOT_OPEN, window 2022-02-28, 0 attempts this cycle", st)
	}
}

func TestExtendFromCurrentExpiry(t *testing.T) {
	cases := map[string]string{
		"2024-02-29": "2025-02-28", // leap day clamps
		"2021-08-31": "2022-08-31",
		"2023-02-28": "2024-02-28", // not moved to the leap day
		"2021-06-15": "2022-06-15",
	}
	for from, want := range cases {
		if got := Extend(d(from)).String(); got != want {
			t.Errorf("Extend(%s): got %s, want %s", from, got, want)
		}
	}
}

func TestScore(t *testing.T) {
	q1, q2, q3, q4 := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	c := func() uuid.UUID { return uuid.New() }
	a1, b1, c1 := c(), c(), c()
	a2, b2, c2, d2 := c(), c(), c(), c()
	a3, b3 := c(), c()
	a4, b4 := c(), c()
	keys := []Key{
		{QuestionID: q1, Choices: []uuid.UUID{a1, b1, c1}, Correct: []uuid.UUID{b1}},
		{QuestionID: q2, Choices: []uuid.UUID{a2, b2, c2, d2}, Correct: []uuid.UUID{a2, c2}},
		{QuestionID: q3, Choices: []uuid.UUID{a3, b3}, Correct: []uuid.UUID{a3}},
		{QuestionID: q4, Choices: []uuid.UUID{a4, b4}, Correct: []uuid.UUID{b4}},
	}
	ans := func(q uuid.UUID, cs ...uuid.UUID) Answer { return Answer{QuestionID: q, ChoiceIDs: cs} }
	cases := []struct {
		name    string
		answers []Answer
		score   int
		passed  bool
		code    apperr.Code
	}{
		{"all right", []Answer{ans(q1, b1), ans(q2, c2, a2), ans(q3, a3), ans(q4, b4)}, 100, true, ""},
		{"multiple answer needs every correct choice", []Answer{ans(q1, b1), ans(q2, a2), ans(q3, a3), ans(q4, b4)}, 75, true, ""},
		{"an extra wrong choice makes it wrong", []Answer{ans(q1, b1), ans(q2, a2, c2, d2), ans(q3, a3)}, 50, false, ""},
		{"unanswered counts wrong; 3 of 4 rounds to 75", []Answer{ans(q1, b1), ans(q3, a3), ans(q4, b4)}, 75, true, ""},
		{"empty selection counts wrong", []Answer{ans(q1), ans(q2, a2, c2), ans(q3, a3)}, 50, false, ""},
		{"nothing answered scores 0", nil, 0, false, ""},
		{"below the passing score fails", []Answer{ans(q1, a1), ans(q3, a3), ans(q4, b4)}, 50, false, ""},
		{"a question not served", []Answer{ans(uuid.New(), a1)}, 0, false, apperr.BadUserInput},
		{"a question answered twice", []Answer{ans(q1, b1), ans(q1, a1)}, 0, false, apperr.BadUserInput},
		{"a choice of another question", []Answer{ans(q1, a2)}, 0, false, apperr.BadUserInput},
		{"a choice never served", []Answer{ans(q1, uuid.New())}, 0, false, apperr.BadUserInput},
		{"a choice named twice", []Answer{ans(q2, a2, a2)}, 0, false, apperr.BadUserInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Score(keys, c.answers, 60)
			if c.code != "" {
				if got := apperr.CodeOf(err); got != c.code {
					t.Fatalf("got %v, want %s", err, c.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Score != c.score || res.Passed != c.passed {
				t.Fatalf("got score %d passed %v, want %d %v", res.Score, res.Passed, c.score, c.passed)
			}
			if len(res.Selected) != len(keys) {
				t.Fatalf("got %d selected entries, want one per served question (%d)", len(res.Selected), len(keys))
			}
		})
	}
	// 2 of 3 is 66.67%: rounded down to 66.
	res, _ := Score(keys[:3], []Answer{ans(q1, b1), ans(q3, a3)}, 67)
	if res.Score != 66 || res.Passed {
		t.Errorf("2 of 3 with passing 67: got %d %v, want 66 false", res.Score, res.Passed)
	}
}

func TestServe(t *testing.T) {
	var bank []catalog.Question
	for i := 0; i < 12; i++ {
		q := catalog.Question{ID: uuid.New()}
		for j := 0; j < 4; j++ {
			q.Choices = append(q.Choices, catalog.Choice{ID: uuid.New(), Correct: j == 0})
		}
		bank = append(bank, q)
	}
	a := Serve(bank, 8, Seeded(7))
	b := Serve(bank, 8, Seeded(7))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed served differently")
	}
	if len(a) != 8 {
		t.Fatalf("got %d questions, want 8", len(a))
	}
	seen := map[uuid.UUID]bool{}
	firstIsBankFirst := 0
	for _, s := range a {
		if seen[s.QuestionID] {
			t.Fatalf("question %s served twice", s.QuestionID)
		}
		seen[s.QuestionID] = true
		q := bank[slices.IndexFunc(bank, func(q catalog.Question) bool { return q.ID == s.QuestionID })]
		want := make([]uuid.UUID, 0, 4)
		for _, c := range q.Choices {
			want = append(want, c.ID)
		}
		got := slices.Clone(s.ChoiceOrder)
		slices.SortFunc(got, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
		slices.SortFunc(want, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
		if !slices.Equal(got, want) {
			t.Fatalf("choice order of %s is not a permutation of its choices", s.QuestionID)
		}
		if s.ChoiceOrder[0] == q.Choices[0].ID {
			firstIsBankFirst++
		}
	}
	if firstIsBankFirst == len(a) {
		t.Errorf("every served question shows the bank's first (correct) choice first: not shuffled")
	}
	if c := Serve(bank, 8, Seeded(8)); reflect.DeepEqual(a, c) {
		t.Errorf("different seeds served the same sample")
	}
	if got := len(Serve(bank[:3], 8, Seeded(1))); got != 3 {
		t.Errorf("small bank: got %d questions, want 3", got)
	}
}
