package transcript

import (
	"testing"
	"time"

	"github.com/recert/recert/internal/date"
)

func TestLastExpiryInWindow(t *testing.T) {
	cases := []struct{ name, today, want string }{
		{"mid-month: six months on", "2021-03-15", "2021-09-15"},
		{"28 Feb 2021 opens the windows of expiries up to 31 Aug", "2021-02-28", "2021-08-31"},
		{"29 Feb 2024 opens the windows of expiries up to 31 Aug", "2024-02-29", "2024-08-31"},
		{"28 Feb 2024 (leap year) is not yet the window of 29-31 Aug", "2024-02-28", "2024-08-28"},
		{"31 Aug: six months on is clamped to 28 Feb", "2021-08-31", "2022-02-28"},
		{"30 Apr opens up to 31 Oct", "2021-04-30", "2021-10-31"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := LastExpiryInWindow(date.MustParse(c.today)).String(); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

// TestStatusFilterAgreesWithStatusAt checks, for every day of 2020-2025 and expiries from
// 400 days before to 400 days after it, that the date conditions of the filter select exactly
// the records StatusAt gives the wanted status.
func TestStatusFilterAgreesWithStatusAt(t *testing.T) {
	superseded := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for today := date.MustParse("2020-01-01"); today.Before(date.MustParse("2026-01-01")); today = today.AddDays(1) {
		filters := map[Status]StatusFilter{}
		for _, s := range []Status{StatusActive, StatusRenewable, StatusExpired, StatusSuperseded} {
			filters[s] = NewStatusFilter([]Status{s}, today)
		}
		check := func(e Earned) {
			want := StatusAt(e, today)
			for s, f := range filters {
				if got := f.Matches(e); got != (s == want) {
					t.Fatalf("today %s, expires %v: filter %s matches %v, want %v (status %s)", today, e.ExpiresOn, s, got, s == want, want)
				}
			}
		}
		check(Earned{EarnedOn: today.AddDays(-10)})
		check(Earned{EarnedOn: today.AddDays(-10), SupersededAt: &superseded})
		for d := -400; d <= 400; d += 3 {
			exp := today.AddDays(d)
			check(Earned{EarnedOn: exp.AddYears(-1), ExpiresOn: &exp})
		}
		for d := 175; d <= 190; d++ { // around the window's start, every day
			exp := today.AddDays(d)
			check(Earned{EarnedOn: exp.AddYears(-1), ExpiresOn: &exp})
		}
	}
}

func TestNoStatusMeansEveryStatus(t *testing.T) {
	f := NewStatusFilter(nil, date.MustParse("2021-03-01"))
	if !f.Active || !f.Renewable || !f.Expired || !f.Superseded {
		t.Fatalf("got %+v, want every status", f)
	}
}
