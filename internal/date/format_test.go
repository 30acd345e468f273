package date

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// String and MarshalGQL write what the %04d-%02d-%02d format writes, for every day of a few
// years and for the years the fast path leaves to fmt.
func TestStringIsTheISOForm(t *testing.T) {
	check := func(d Date) {
		t.Helper()
		want := fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
		if got := d.String(); got != want {
			t.Fatalf("%#v.String() = %q, want %q", d, got, want)
		}
		var b bytes.Buffer
		d.MarshalGQL(&b)
		if b.String() != `"`+want+`"` {
			t.Fatalf("%#v.MarshalGQL wrote %s, want %q", d, b.String(), want)
		}
	}
	for day := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 2002; day = day.AddDate(0, 0, 1) {
		check(Of(day))
	}
	for _, d := range []Date{{Year: 1, Month: 1, Day: 1}, {Year: 9999, Month: 12, Day: 31}, {Year: 10000, Month: 1, Day: 1}, {Year: -1, Month: 1, Day: 1}, {}} {
		check(d)
	}
}
