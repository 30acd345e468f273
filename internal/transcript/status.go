package transcript

import (
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
)

// WindowOpensOn is the first day of the renewal window of a certification expiring on
// expires: 6 calendar months before, clamped to the month's end (docs/domain.md "Window":
// expiry 2021-08-31 opens 2021-02-28).
func WindowOpensOn(expires date.Date) date.Date {
	return expires.AddMonths(-catalog.RenewalLeadMonths)
}

// StatusAt is the status of e on the calendar day today (docs/domain.md "Earned certifications"):
// SUPERSEDED once a merge marked it so; fundamentals (no expiry) always ACTIVE; EXPIRED from
// expiresOn on; RENEWABLE inside the window [expiresOn - 6 months, expiresOn); ACTIVE before.
func StatusAt(e Earned, today date.Date) Status {
	switch {
	case e.SupersededAt != nil:
		return StatusSuperseded
	case e.ExpiresOn == nil:
		return StatusActive
	case !today.Before(*e.ExpiresOn):
		return StatusExpired
	case !today.Before(WindowOpensOn(*e.ExpiresOn)):
		return StatusRenewable
	default:
		return StatusActive
	}
}
