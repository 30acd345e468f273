package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

// MaxReminders is the most reminders a renewal cycle gets (docs/domain.md "Notifications": at most
// 4 per cycle); the notifications table enforces it too (sequence 1..4, unique per cycle).
const MaxReminders = 4

// maxLeadDays bounds a day offset. The window opens 6 calendar months before expiry, which is
// never fewer than 181 days, so every reminder of up to 180 days falls inside the window.
const maxLeadDays = 180

// DefaultOffsets is the chosen schedule (docs/domain.md "Notifications"): when the window opens,
// then 90, 30 and 7 days before expiry.
const DefaultOffsets = "window,90d,30d,7d"

// Offset is when one reminder of a cycle is due: the day the renewal window opens, or a number
// of days before expiry.
type Offset struct {
	Window bool // the day the window opens (transcript.WindowOpensOn)
	Days   int  // days before expiry, when Window is false
}

// String writes the offset as REMINDER_OFFSETS spells it.
func (o Offset) String() string {
	if o.Window {
		return "window"
	}
	return strconv.Itoa(o.Days) + "d"
}

// Plan is the reminder schedule of a renewal cycle: 1 to 4 offsets, earliest first. Reminder
// i (sequence i, from 1) is due on the date of offset i before the cycle's expiry.
type Plan struct{ offsets []Offset }

// ParsePlan reads REMINDER_OFFSETS: 1 to 4 comma-separated offsets, earliest first, each
// either `window` (the day the renewal window opens, 6 calendar months before expiry; only as
// the first) or `<N>d` (N days before expiry, 1 to 180), strictly decreasing.
// Example: `window,90d,30d,7d` (the default). Codes: none (a plain error for the operator).
func ParsePlan(s string) (Plan, error) {
	parts := strings.Split(s, ",")
	if len(parts) == 0 || len(parts) > MaxReminders {
		return Plan{}, fmt.Errorf("want 1 to %d offsets, got %d", MaxReminders, len(parts))
	}
	var p Plan
	for i, raw := range parts {
		item := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case item == "window":
			if i != 0 {
				return Plan{}, fmt.Errorf("%q: window can only be the first offset", raw)
			}
			p.offsets = append(p.offsets, Offset{Window: true})
		case strings.HasSuffix(item, "d"):
			n, err := strconv.Atoi(strings.TrimSuffix(item, "d"))
			if err != nil || n < 1 || n > maxLeadDays {
				return Plan{}, fmt.Errorf("%q: want a number of days from 1 to %d, such as 30d", raw, maxLeadDays)
			}
			if i > 0 && !p.offsets[i-1].Window && p.offsets[i-1].Days <= n {
				return Plan{}, fmt.Errorf("%q: offsets must be in order, earliest first (more days before expiry first)", raw)
			}
			p.offsets = append(p.offsets, Offset{Days: n})
		default:
			return Plan{}, fmt.Errorf("%q: want window or a number of days such as 30d", raw)
		}
	}
	return p, nil
}

// DefaultPlan is the plan of DefaultOffsets.
func DefaultPlan() Plan {
	p, err := ParsePlan(DefaultOffsets)
	if err != nil {
		panic(err)
	}
	return p
}

// Offsets returns the plan's offsets, earliest first.
func (p Plan) Offsets() []Offset { return append([]Offset(nil), p.offsets...) }

// Len is the number of reminders per cycle.
func (p Plan) Len() int { return len(p.offsets) }

// String writes the plan as REMINDER_OFFSETS spells it.
func (p Plan) String() string {
	s := make([]string, len(p.offsets))
	for i, o := range p.offsets {
		s[i] = o.String()
	}
	return strings.Join(s, ",")
}

// Dates returns the due date of each reminder of the cycle expiring on expires, sequence 1 first.
func (p Plan) Dates(expires date.Date) []date.Date {
	out := make([]date.Date, len(p.offsets))
	for i, o := range p.offsets {
		if o.Window {
			out[i] = transcript.WindowOpensOn(expires)
		} else {
			out[i] = expires.AddDays(-o.Days)
		}
	}
	return out
}

// KindOf is the kind of the reminder with sequence seq: the first of a cycle tells the learner
// the window is open; the others remind them.
func KindOf(seq int) Kind {
	if seq == 1 {
		return KindWindowOpen
	}
	return KindReminder
}

// Reminder is one reminder of a cycle.
type Reminder struct {
	Sequence int
	Kind     Kind
	On       date.Date // the day it became due
}

// Due returns the latest reminder due on today for the cycle expiring on expires, and false
// when none is: before the first date, and from expiry on (docs/domain.md "Notifications": none
// after expiry). Only the latest counts: after downtime the learner gets one current reminder,
// not a burst of stale ones. Renewals need no rule here: a renewal moves the expiry, so the old
// cycle is never asked about again and the new one starts at sequence 1 when its window opens.
func (p Plan) Due(expires, today date.Date) (Reminder, bool) {
	if !today.Before(expires) {
		return Reminder{}, false
	}
	var r Reminder
	for i, on := range p.Dates(expires) {
		if on.After(today) {
			break
		}
		r = Reminder{Sequence: i + 1, Kind: KindOf(i + 1), On: on}
	}
	return r, r.Sequence > 0
}

// Horizon is the latest expiry date that can have a reminder due on today: the scheduler
// scans earned certifications expiring in (today, Horizon]. The window opens 6 calendar
// months (at most 184 days) before expiry; a few days more keep the bound safe.
func (p Plan) Horizon(today date.Date) date.Date {
	if len(p.offsets) == 0 {
		return today
	}
	if p.offsets[0].Window {
		return today.AddDays(190)
	}
	return today.AddDays(p.offsets[0].Days)
}

// Backoff bounds: the first retry after BackoffBase, doubling per failure up to BackoffCap.
const (
	BackoffBase = time.Minute
	BackoffCap  = 6 * time.Hour
)

// Backoff is how long to wait before the next delivery attempt after attempts failed ones
// (attempts >= 1): BackoffBase doubled per earlier failure, capped at BackoffCap. A reminder
// that keeps failing is retried until its cycle expires, when the sender cancels it.
func Backoff(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := BackoffBase
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= BackoffCap {
			return BackoffCap
		}
	}
	return d
}
