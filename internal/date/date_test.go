package date

import "testing"

func TestMonthArithmeticClampsToMonthEnd(t *testing.T) {
	cases := []struct {
		name   string
		from   string
		months int
		want   string
	}{
		{"31 Aug minus 6 months is end of February", "2021-08-31", -6, "2021-02-28"},
		{"31 Aug 2024 minus 6 months is 29 Feb in a leap year", "2024-08-31", -6, "2024-02-29"},
		{"29 Feb plus 12 months is 28 Feb", "2024-02-29", 12, "2025-02-28"},
		{"31 Jan plus 1 month", "2021-01-31", 1, "2021-02-28"},
		{"plain month step", "2021-03-15", 6, "2021-09-15"},
		{"across year backwards", "2021-03-31", -4, "2020-11-30"},
		{"to January", "2021-07-10", -6, "2021-01-10"},
		{"to December", "2021-06-10", -6, "2020-12-10"},
		{"many years back", "2021-06-10", -30, "2018-12-10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := MustParse(c.from).AddMonths(c.months).String()
			if got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestAddYearsLeapDay(t *testing.T) {
	if got := MustParse("2024-02-29").AddYears(1).String(); got != "2025-02-28" {
		t.Fatalf("got %s, want 2025-02-28", got)
	}
	if got := MustParse("2024-02-29").AddYears(4).String(); got != "2028-02-29" {
		t.Fatalf("got %s, want 2028-02-29", got)
	}
}

func TestCompareAndScan(t *testing.T) {
	a, b := MustParse("2021-02-28"), MustParse("2021-03-01")
	if !a.Before(b) || !b.After(a) || a.Compare(a) != 0 {
		t.Fatalf("compare wrong for %s and %s", a, b)
	}
	var d Date
	if err := d.Scan("2021-08-31"); err != nil || d.String() != "2021-08-31" {
		t.Fatalf("got %v %v, want 2021-08-31", d, err)
	}
	if _, err := Parse("2021-02-30"); err == nil {
		t.Fatal("got nil error for 2021-02-30, want one")
	}
}
