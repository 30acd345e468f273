package calendar

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/transcript"
)

// Kind is which date of a renewal cycle an event marks.
type Kind string

// The event kinds. A reminder's kind names its offset ("reminder-30d"), so each is its own UID.
const (
	KindWindowOpen Kind = "window-open"
	KindDeadline   Kind = "deadline"
)

// Event is one calendar event of a feed.
type Event struct {
	// UID is stable per earned certification and kind: a renewal (a new cycle of the same
	// record) moves the event and raises Sequence instead of adding another.
	UID     string
	Kind    Kind
	Summary string
	URL     string
	// Day is the date of an all-day event (the window opening, a reminder day).
	Day date.Date
	// Start and End bound a timed event (the deadline); zero for all-day events.
	Start, End time.Time
	Sequence   int
	Modified   time.Time
}

// EventsOf is the events of one certification's current cycle: an all-day event on the day the
// window opens, one on every reminder day of the schedule that is not that day, and the deadline
// as a one-second event ending at the instant submissions stop (renewal.DeadlineAt), each linking
// to the renewal page and naming the certification.
func EventsOf(e Entry, reminders []date.Date, base *url.URL) []Event {
	link := RenewURL(base, e.Code)
	opens := transcript.WindowOpensOn(e.ExpiresOn)
	uid := func(k Kind) string { return e.EarnedID.String() + "-" + string(k) + "@" + base.Hostname() }
	ev := func(k Kind, summary string) Event {
		return Event{UID: uid(k), Kind: k, Summary: summary, URL: link, Sequence: e.Renewals, Modified: e.ModifiedAt.UTC()}
	}
	w := ev(KindWindowOpen, "Renewal window opens: "+e.Name)
	w.Day = opens
	out := []Event{w}
	for _, d := range reminders {
		if d == opens {
			continue
		}
		days := int(e.ExpiresOn.Time().Sub(d.Time()).Hours() / 24)
		r := ev(Kind(fmt.Sprintf("reminder-%dd", days)), fmt.Sprintf("Renew %s: %d days left", e.Name, days))
		r.Day = d
		out = append(out, r)
	}
	last, _ := renewal.DeadlineAt(renewal.Facts{
		Earned:        transcript.Earned{ExpiresOn: &e.ExpiresOn},
		Certification: catalog.Certification{RetiredOn: e.RetiredOn},
	})
	dl := ev(KindDeadline, "Renewal deadline: "+e.Name)
	dl.Start = last.Truncate(time.Second)
	dl.End = dl.Start.Add(time.Second)
	return append(out, dl)
}

// AllDay reports whether the event is an all-day event.
func (ev Event) AllDay() bool { return ev.Start.IsZero() }

// Render writes events as one iCalendar object (RFC 5545: CRLF lines folded at 75 octets,
// TEXT values escaped), with github.com/arran4/golang-ical. No METHOD: it is a published feed,
// so DTSTAMP is when the event's information last changed (RFC 5545 3.8.7.2), which keeps the
// output, and so the ETag, the same until something changes.
func Render(events []Event) []byte { return render(events, "") }

// RenderInvite is Render with METHOD:PUBLISH, for an .ics sent by email (RFC 6047: the
// attachment's content type names the same method).
func RenderInvite(events []Event) []byte { return render(events, ics.MethodPublish) }

func render(events []Event, method ics.Method) []byte {
	cal := ics.NewCalendarFor("Recert")
	if method != "" {
		cal.SetMethod(method)
	}
	cal.SetProductId("-//Recert//Renewal calendar//EN")
	cal.SetVersion("2.0")
	cal.SetCalscale("GREGORIAN")
	cal.SetName("Certification renewals")
	cal.SetXWRCalName("Certification renewals")
	cal.SetRefreshInterval("PT12H")
	cal.SetXPublishedTTL("PT12H")
	for _, e := range events {
		v := cal.AddEvent(e.UID)
		v.SetDtStampTime(e.Modified)
		v.SetModifiedAt(e.Modified)
		v.SetSequence(e.Sequence)
		v.SetSummary(e.Summary)
		v.SetDescription(e.Summary + "\nRenew: " + e.URL)
		v.SetURL(e.URL)
		v.SetProperty(ics.ComponentPropertyTransp, "TRANSPARENT")
		if e.AllDay() {
			v.SetAllDayStartAt(e.Day.Time())
			v.SetAllDayEndAt(e.Day.AddDays(1).Time())
		} else {
			v.SetStartAt(e.Start)
			v.SetEndAt(e.End)
		}
	}
	s := cal.Serialize(ics.WithNewLine("\r\n"))
	return []byte(strings.TrimSpace(s) + "\r\n")
}
