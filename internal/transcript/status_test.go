package transcript

import (
	"testing"
	"time"

	"github.com/recert/recert/internal/date"
)

func TestStatusAt(t *testing.T) {
	exp := date.MustParse("2021-08-31")
	held := Earned{EarnedOn: date.MustParse("2020-08-31"), ExpiresOn: &exp}
	now := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	superseded := held
	superseded.SupersededAt = &now
	fundamentals := Earned{EarnedOn: date.MustParse("2019-01-01")}
	cases := []struct {
		name  string
		e     Earned
		today string
		want  Status
	}{
		{"before the window is active", held, "2021-02-27", StatusActive},
		{"window opens 6 months before 31 Aug on 28 Feb", held, "2021-02-28", StatusRenewable},
		{"last day before expiry is renewable", held, "2021-08-30", StatusRenewable},
		{"expired from the expiry date on", held, "2021-08-31", StatusExpired},
		{"fundamentals never expire", fundamentals, "2040-01-01", StatusActive},
		{"superseded wins", superseded, "2021-03-01", StatusSuperseded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := StatusAt(c.e, date.MustParse(c.today)); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	if got := WindowOpensOn(date.MustParse("2024-08-31")).String(); got != "2024-02-29" {
		t.Fatalf("leap year window: got %s, want 2024-02-29", got)
	}
}
