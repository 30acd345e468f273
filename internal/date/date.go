// Package date is a calendar date with no time of day and no zone, and the month arithmetic
// the rules need. Month and year steps clamp to the end of the month (docs/domain.md "Time"):
// 31 Aug minus 6 months is the last day of February, 29 Feb 2024 plus 1 year is 28 Feb 2025.
package date

import (
	"database/sql/driver"
	"fmt"
	"io"
	"time"
)

// Date is a calendar date. The zero value is "no date" (see IsZero).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// New returns the date y-m-d, normalised like time.Date.
func New(y int, m time.Month, d int) Date {
	return Of(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// Of returns the UTC calendar date of the instant t.
func Of(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{y, m, d}
}

// Parse reads an ISO 8601 date (YYYY-MM-DD).
func Parse(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return Of(t), nil
}

// MustParse is Parse for literals in tests and shipped data; it panics on a bad date.
func MustParse(s string) Date {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.Year == 0 && d.Month == 0 && d.Day == 0 }

// Time returns midnight UTC at the start of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return string(d.appendTo(nil)) }

// AppendText appends d as String writes it, YYYY-MM-DD, to b.
func (d Date) appendTo(b []byte) []byte {
	if d.Year < 0 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
		return fmt.Appendf(b, "%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	y, m := d.Year, int(d.Month)
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d.Day/10), byte('0'+d.Day%10))
}

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date { return Of(d.Time().AddDate(0, 0, n)) }

// AddMonths returns d moved by n calendar months, clamped to the last day of the target month.
func (d Date) AddMonths(n int) Date {
	total := d.Year*12 + int(d.Month-1) + n
	y, m := total/12, time.Month(total%12+1)
	if total%12 < 0 {
		y, m = (total-11)/12, time.Month((total%12+12)%12+1)
	}
	last := daysIn(y, m)
	day := d.Day
	if day > last {
		day = last
	}
	return Date{y, m, day}
}

// AddYears returns d moved by n years, clamped to the end of the month (29 Feb + 1y = 28 Feb).
func (d Date) AddYears(n int) Date { return d.AddMonths(12 * n) }

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmp(d.Year, e.Year)
	case d.Month != e.Month:
		return cmp(int(d.Month), int(e.Month))
	default:
		return cmp(d.Day, e.Day)
	}
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Scan reads a PostgreSQL date.
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d = Date{v.Year(), v.Month(), v.Day()}
		return nil
	case string:
		p, err := Parse(v[:min(len(v), 10)])
		*d = p
		return err
	case []byte:
		p, err := Parse(string(v[:min(len(v), 10)]))
		*d = p
		return err
	case nil:
		*d = Date{}
		return nil
	}
	return fmt.Errorf("date: cannot scan %T", src)
}

// Value writes d as a PostgreSQL date; the zero Date is NULL.
func (d Date) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}

// MarshalText formats d as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// MarshalGQL writes d as the GraphQL Date scalar.
func (d Date) MarshalGQL(w io.Writer) {
	var buf [16]byte
	_, _ = w.Write(append(d.appendTo(append(buf[:0], '"')), '"'))
}

// UnmarshalGQL reads the GraphQL Date scalar.
func (d *Date) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("Date must be a string in YYYY-MM-DD form")
	}
	return d.UnmarshalText([]byte(s))
}
