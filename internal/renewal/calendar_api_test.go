package renewal_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/recert/recert/internal/date"

	"github.com/recert/recert/graph/app/apitest"
)

// The calendar feed and deadlineAt end to end (issue 16). The feed is parsed with
// github.com/emersion/go-ical, a parser independent of the library that writes it.

const createFeed = `mutation($id: ID!) { createCalendarFeed(input: {certificationProfileId: $id}) {
  calendarFeed { id url createdAt revokedAt } } }`

type feedOut struct {
	ID, URL, CreatedAt string
	RevokedAt          *string
}

func newFeed(t *testing.T, env *apitest.Env, h holder) feedOut {
	t.Helper()
	var out struct {
		CreateCalendarFeed struct{ CalendarFeed feedOut }
	}
	env.MustDo(h.who, createFeed, map[string]any{"id": opaque("CertificationProfile", h.profileID)}, &out)
	return out.CreateCalendarFeed.CalendarFeed
}

// fetchFeed GETs a feed URL through the handler, with no Authorization header.
func fetchFeed(t *testing.T, env *apitest.Env, url, ifNoneMatch string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, url, nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	env.Server.Handler().ServeHTTP(rec, req)
	return rec
}

type icsEvent struct {
	UID, Summary, URL, Start, End string
	Sequence                      string
}

// parseFeed decodes an iCalendar body and lists its events by UID.
func parseFeed(t *testing.T, body []byte) map[string]icsEvent {
	t.Helper()
	cal, err := goical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("parse feed: %v\n%s", err, body)
	}
	out := map[string]icsEvent{}
	for _, ev := range cal.Events() {
		uid, _ := ev.Props.Text(goical.PropUID)
		sum, _ := ev.Props.Text(goical.PropSummary)
		start, err := ev.DateTimeStart(time.UTC)
		if err != nil {
			t.Fatalf("DTSTART of %s: %v", uid, err)
		}
		end, err := ev.DateTimeEnd(time.UTC)
		if err != nil {
			t.Fatalf("DTEND of %s: %v", uid, err)
		}
		e := icsEvent{UID: uid, Summary: sum, Start: start.Format(time.RFC3339), End: end.Format(time.RFC3339)}
		if p := ev.Props.Get(goical.PropURL); p != nil {
			e.URL = p.Value
		}
		if p := ev.Props.Get(goical.PropSequence); p != nil {
			e.Sequence = p.Value
		}
		if ev.Props.Get(goical.PropDateTimeStamp) == nil || ev.Props.Get(goical.PropLastModified) == nil {
			t.Fatalf("event %s has no DTSTAMP or LAST-MODIFIED", uid)
		}
		out[uid] = e
	}
	return out
}

// kinds maps each event's kind (the UID's part after the earned certification id) to the
// event.
func kinds(events map[string]icsEvent) map[string]icsEvent {
	out := map[string]icsEvent{}
	for uid, e := range events {
		k := uid[len("00000000-0000-0000-0000-000000000000-"):strings.Index(uid, "@")]
		out[k] = e
	}
	return out
}

func TestCalendarFeedDatesFollowTheRenewalRules(t *testing.T) {
	env := apitest.New(t)
	cases := []struct {
		name, expires string
		want          map[string][2]string // kind -> start, end
	}{
		{name: "expiry 31 Aug: window opens on the last day of February", expires: "2021-08-31", want: map[string][2]string{
			"window-open":  {"2021-02-28T00:00:00Z", "2021-03-01T00:00:00Z"},
			"reminder-90d": {"2021-06-02T00:00:00Z", "2021-06-03T00:00:00Z"},
			"reminder-30d": {"2021-08-01T00:00:00Z", "2021-08-02T00:00:00Z"},
			"reminder-7d":  {"2021-08-24T00:00:00Z", "2021-08-25T00:00:00Z"},
			"deadline":     {"2021-08-30T23:59:59Z", "2021-08-31T00:00:00Z"},
		}},
		{name: "expiry 29 Feb 2024", expires: "2024-02-29", want: map[string][2]string{
			"window-open":  {"2023-08-29T00:00:00Z", "2023-08-30T00:00:00Z"},
			"reminder-90d": {"2023-12-01T00:00:00Z", "2023-12-02T00:00:00Z"},
			"reminder-30d": {"2024-01-30T00:00:00Z", "2024-01-31T00:00:00Z"},
			"reminder-7d":  {"2024-02-22T00:00:00Z", "2024-02-23T00:00:00Z"},
			"deadline":     {"2024-02-28T23:59:59Z", "2024-02-29T00:00:00Z"},
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHolder(t, env, "cal-dates-"+string(rune('a'+i)))
			earned := h.earn(t, env, azureAdmin, date.MustParse(c.expires).AddYears(-1).String(), c.expires)
			h.earn(t, env, "azure-fundamentals", "2020-01-10", "") // never in the feed
			feed := newFeed(t, env, h)
			if !strings.HasPrefix(feed.URL, env.Config.PublicURL+"/calendar/") || !strings.HasSuffix(feed.URL, ".ics") {
				t.Fatalf("got url %q, want one under %s/calendar/", feed.URL, env.Config.PublicURL)
			}
			rec := fetchFeed(t, env, feed.URL, "")
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/calendar; charset=utf-8" {
				t.Fatalf("got %d %q, want 200 text/calendar; charset=utf-8\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			got := kinds(parseFeed(t, rec.Body.Bytes()))
			if len(got) != len(c.want) {
				t.Fatalf("got events %v, want %v", got, c.want)
			}
			for k, w := range c.want {
				e := got[k]
				if e.Start != w[0] || e.End != w[1] {
					t.Errorf("%s: got %s..%s, want %s..%s", k, e.Start, e.End, w[0], w[1])
				}
				if !strings.HasPrefix(e.UID, earned.String()) || e.Sequence != "0" ||
					e.URL != env.Config.PublicURL+"/certifications/"+azureAdmin+"/renew" ||
					!strings.Contains(e.Summary, "Azure Administrator") {
					t.Errorf("%s: got %+v, want the earned id in the UID, SEQUENCE 0, the renewal link and the name", k, e)
				}
			}
		})
	}
}

// TestCalendarFeedUpdatesOnRenewal: a renewal mid-cycle keeps every UID, moves the dates a
// year on and raises SEQUENCE; the ETag changes with it, and answers 304 while nothing changed.
func TestCalendarFeedUpdatesOnRenewal(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "cal-renew")
	h.link(t, env)
	earnedID := h.earn(t, env, azureAdmin, "2020-08-31", "2021-08-31")
	feed := newFeed(t, env, h)

	first := fetchFeed(t, env, feed.URL, "")
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || etag == "" {
		t.Fatalf("got %d with ETag %q, want 200 with an ETag", first.Code, etag)
	}
	if rec := fetchFeed(t, env, feed.URL, etag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("If-None-Match the same ETag: got %d with %d bytes, want 304 and no body", rec.Code, rec.Body.Len())
	}
	before := parseFeed(t, first.Body.Bytes())

	a := start(t, env, h.who, earnedID, "en")
	env.Clock.Advance(30 * time.Minute)
	submit(t, env, h.who, a.ID, answers(t, env, a, len(a.Questions)))

	after := fetchFeed(t, env, feed.URL, etag)
	if after.Code != http.StatusOK || after.Header().Get("ETag") == etag {
		t.Fatalf("after a renewal: got %d with ETag %q, want 200 with a new ETag", after.Code, after.Header().Get("ETag"))
	}
	got := parseFeed(t, after.Body.Bytes())
	if len(got) != len(before) {
		t.Fatalf("got %d events, want the same %d", len(got), len(before))
	}
	var uids []string
	for uid := range before {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	for _, uid := range uids {
		e, ok := got[uid]
		if !ok {
			t.Fatalf("UID %s is gone after the renewal", uid)
		}
		if e.Sequence != "1" || e.Start == before[uid].Start {
			t.Errorf("%s: got SEQUENCE %s start %s, want 1 and a new date (was %s)", uid, e.Sequence, e.Start, before[uid].Start)
		}
	}
	if e := kinds(got)["deadline"]; e.Start != "2022-08-30T23:59:59Z" {
		t.Fatalf("deadline after the renewal: got %s, want 2022-08-30T23:59:59Z", e.Start)
	}
}

// TestCalendarFeedAccess: only the owner creates, lists and revokes feeds; a revoked URL is 404.
func TestCalendarFeedAccess(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "cal-owner")
	h.earn(t, env, azureAdmin, "2020-08-31", "2021-08-31")
	pid := map[string]any{"id": opaque("CertificationProfile", h.profileID)}
	env.MustFail(apitest.Learner("cal-stranger"), createFeed, pid, "NOT_FOUND")
	env.MustFail(apitest.Support("cal-support"), createFeed, pid, "FORBIDDEN")
	env.MustFail(apitest.Anonymous, createFeed, pid, "UNAUTHENTICATED")

	feed := newFeed(t, env, h)
	var list struct {
		Node struct{ CalendarFeeds []feedOut }
	}
	env.MustDo(h.who, `query($id: ID!) { node(id: $id) { ... on CertificationProfile { calendarFeeds { id url createdAt revokedAt } } } }`, pid, &list)
	if len(list.Node.CalendarFeeds) != 1 || list.Node.CalendarFeeds[0].ID != feed.ID || list.Node.CalendarFeeds[0].URL != "" {
		t.Fatalf("got feeds %+v, want the one feed without its url", list.Node.CalendarFeeds)
	}
	revoke := `mutation($id: ID!) { revokeCalendarFeed(input: {calendarFeedId: $id}) { calendarFeed { id revokedAt } } }`
	env.MustFail(apitest.Learner("cal-stranger"), revoke, map[string]any{"id": feed.ID}, "NOT_FOUND")
	if rec := fetchFeed(t, env, feed.URL, ""); rec.Code != http.StatusOK {
		t.Fatalf("before revoking: got %d, want 200", rec.Code)
	}
	var out struct {
		RevokeCalendarFeed struct{ CalendarFeed feedOut }
	}
	env.MustDo(h.who, revoke, map[string]any{"id": feed.ID}, &out)
	if out.RevokeCalendarFeed.CalendarFeed.RevokedAt == nil {
		t.Fatal("revokedAt is null after revoking")
	}
	if rec := fetchFeed(t, env, feed.URL, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("after revoking: got %d, want 404", rec.Code)
	}
	if rec := fetchFeed(t, env, strings.Replace(feed.URL, "/calendar/", "/calendar/x", 1), ""); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown token: got %d, want 404", rec.Code)
	}
}

// TestDeadlineAtMatchesSubmit: RenewalStatus.deadlineAt is the last instant Submit accepts.
// The same attempt is refused a nanosecond after it and accepted at it.
func TestDeadlineAtMatchesSubmit(t *testing.T) {
	env := apitest.New(t)
	h := newHolder(t, env, "cal-deadline")
	h.link(t, env)
	e := h.earn(t, env, azureAdmin, "2020-08-31", "2021-08-31")
	env.Clock.Set(at("2021-08-30T12:00:00Z"))
	var st struct {
		Node struct {
			Renewal struct {
				DeadlineAt, NextAction string
			}
		}
	}
	q := `query($id: ID!) { node(id: $id) { ... on EarnedCertification { renewal { deadlineAt nextAction } } } }`
	env.MustDo(h.who, q, map[string]any{"id": opaque("EarnedCertification", e)}, &st)
	if st.Node.Renewal.DeadlineAt != "2021-08-30T23:59:59.999999999Z" || st.Node.Renewal.NextAction != "START_ASSESSMENT" {
		t.Fatalf("got %+v, want deadlineAt 2021-08-30T23:59:59.999999999Z and START_ASSESSMENT", st.Node.Renewal)
	}
	deadline, _ := time.Parse(time.RFC3339Nano, st.Node.Renewal.DeadlineAt)
	a := start(t, env, h.who, e, "en")
	env.MustDo(h.who, q, map[string]any{"id": opaque("EarnedCertification", e)}, &st)
	if st.Node.Renewal.NextAction != "RESUME_ATTEMPT" {
		t.Fatalf("with an attempt in progress: got %s, want RESUME_ATTEMPT", st.Node.Renewal.NextAction)
	}
	env.Clock.Set(deadline.Add(time.Nanosecond))
	env.MustFail(h.who, submitMutation, map[string]any{"id": a.ID, "answers": answers(t, env, a, len(a.Questions))}, "CERTIFICATION_EXPIRED")
	env.Clock.Set(deadline)
	if r := submit(t, env, h.who, a.ID, answers(t, env, a, len(a.Questions))); r.Attempt.Passed == nil || !*r.Attempt.Passed {
		t.Fatalf("at deadlineAt: got %+v, want a pass", r.Attempt)
	}
}
