package transcript

import (
	"slices"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
)

// LastExpiryInWindow is the latest expiry date whose renewal window is open on today: an
// unexpired, unsuperseded certification is RENEWABLE on today exactly when its expiresOn is
// after today and on or before this date. It inverts WindowOpensOn, clamping included
// (on 2021-02-28 the window is open for expiries up to 2021-08-31).
func LastExpiryInWindow(today date.Date) date.Date {
	// WindowOpensOn is monotonic and WindowOpensOn(today + 6 months) <= today, so step
	// forward while the next day's window is open too (at most a few days at a month end).
	d := today.AddMonths(catalog.RenewalLeadMonths)
	for !WindowOpensOn(d.AddDays(1)).After(today) {
		d = d.AddDays(1)
	}
	return d
}

// StatusFilter is a filter on the status of earned certifications at a day, expressed as
// conditions on stored columns so a store can apply it in SQL and keep keyset pagination
// (the status itself is computed from the clock, never stored except SUPERSEDED):
//
//	SUPERSEDED  superseded
//	EXPIRED     not superseded, expiresOn <= Today
//	RENEWABLE   not superseded, Today < expiresOn <= RenewableThrough
//	ACTIVE      not superseded, no expiresOn or expiresOn > RenewableThrough
type StatusFilter struct {
	Today            date.Date
	RenewableThrough date.Date
	Active           bool
	Renewable        bool
	Expired          bool
	Superseded       bool
}

// NewStatusFilter builds the filter for the statuses wanted on today. No status (nil or
// empty) means every status.
func NewStatusFilter(statuses []Status, today date.Date) StatusFilter {
	all := len(statuses) == 0
	return StatusFilter{
		Today:            today,
		RenewableThrough: LastExpiryInWindow(today),
		Active:           all || slices.Contains(statuses, StatusActive),
		Renewable:        all || slices.Contains(statuses, StatusRenewable),
		Expired:          all || slices.Contains(statuses, StatusExpired),
		Superseded:       all || slices.Contains(statuses, StatusSuperseded),
	}
}

// Matches applies the filter to e in Go; the SQL of the store is the same predicate, and a
// test checks both agree with StatusAt.
func (f StatusFilter) Matches(e Earned) bool {
	switch {
	case e.SupersededAt != nil:
		return f.Superseded
	case e.ExpiresOn == nil:
		return f.Active
	case !e.ExpiresOn.After(f.Today):
		return f.Expired
	case !e.ExpiresOn.After(f.RenewableThrough):
		return f.Renewable
	default:
		return f.Active
	}
}
