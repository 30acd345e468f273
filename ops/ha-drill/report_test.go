package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestOutageRunsFromFirstFailureToTheAckAfterTheLastFailure(t *testing.T) {
	as := []attempt{
		{Kind: "exam", Start: at(0), End: at(0.1), OK: true},
		{Kind: "exam", Start: at(10), End: at(10.5)},           // first failure
		{Kind: "exam", Start: at(11), End: at(11.2), OK: true}, // a lucky one on a surviving connection
		{Kind: "merge", Start: at(13.5), End: at(14)},          // last failure
		{Kind: "exam", Start: at(13), End: at(15), OK: true},   // started before the last failure: not it
		{Kind: "exam", Start: at(14.5), End: at(16), OK: true}, // the one
		{Kind: "exam", Start: at(15), End: at(15.8), OK: true}, // ends earlier: this one
		{Kind: "exam", Start: at(29.5), End: at(31)},           // in flight when the next event began: its failure
		{Kind: "exam", Start: at(40), End: at(40.1)},           // next event's window
		{Kind: "exam", Start: at(41), End: at(41.5), OK: true},
	}
	o := outageOf(as, at(5), at(30))
	if o.Failed != 2 || o.Open || o.Duration != 5800*time.Millisecond {
		t.Fatalf("outage = %+v, want 2 failures over 5.8 s", o)
	}
	if o := outageOf(as, at(30), at(60)); o.Failed != 2 || o.Duration != 11500*time.Millisecond {
		t.Fatalf("next window = %+v, want 2 failures over 11.5 s (from the event, not the in-flight attempt's start)", o)
	}
	if o := outageOf(as[:len(as)-1], at(30), at(60)); !o.Open {
		t.Fatalf("outage with no acknowledgement after = %+v, want open", o)
	}
	if o := outageOf(as, at(20), at(30)); o.Failed != 0 || o.Duration != 0 || o.Open {
		t.Fatalf("quiet window = %+v, want none", o)
	}
}

func TestMissingListsAcknowledgedKeysTheDatabaseLacks(t *testing.T) {
	got := missing([]string{"a", "b", "c"}, map[string]bool{"a": true, "c": true, "x": true})
	if len(got) != 1 || got[0] != "b" {
		t.Fatalf("missing = %v, want [b]", got)
	}
}

func TestReportEndsWithTheVerdict(t *testing.T) {
	l := ledger{Exams: []string{"e1", "e2", "e3"}, Merges: []string{"m1"}, Submits: []string{"s1"}}
	evs := []event{{Name: "switchover 1", From: "node1", To: "node2", Start: at(10), HealthyWait: 4 * time.Second}}
	as := []attempt{{Kind: "exam", Start: at(10), End: at(11)}, {Kind: "exam", Start: at(12), End: at(12.5), OK: true}}
	for _, c := range []struct {
		f    findings
		last string
	}{
		{findings{}, "lost 0 of 5 acknowledged writes"},
		{findings{Lost: map[string][]string{"exam": {"e2"}, "merge": {"m1"}}}, "lost 2 of 5 acknowledged writes"},
	} {
		var b bytes.Buffer
		writeReport(&b, evs, as, at(60), l, c.f, "test", []string{"a note"})
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		if lines[len(lines)-1] != c.last {
			t.Fatalf("last line %q, want %q\n%s", lines[len(lines)-1], c.last, b.String())
		}
		if !strings.Contains(b.String(), "2.5 s") {
			t.Fatalf("report lacks the 2.5 s outage:\n%s", b.String())
		}
	}
}

func TestEventPlanSpreadsTheKills(t *testing.T) {
	got := strings.Join(eventPlan(5, 2), " ")
	if want := "switchover switchover kill switchover switchover kill switchover"; got != want {
		t.Fatalf("eventPlan(5, 2) = %s, want %s", got, want)
	}
	if got := eventPlan(0, 1); len(got) != 1 || got[0] != "kill" {
		t.Fatalf("eventPlan(0, 1) = %v", got)
	}
	if got := eventPlan(3, 0); strings.Join(got, " ") != "switchover switchover switchover" {
		t.Fatalf("eventPlan(3, 0) = %v", got)
	}
}

// The report says how many webhook deliveries the sink received and the database recorded,
// names the first ones received twice or never received, and each of those fails the drill.
func TestReportCountsWebhookDeliveries(t *testing.T) {
	f := findings{Hooks: 120, HooksInDB: 121, HooksRetried: 3, HooksPending: 0, HooksTwice: 2,
		HooksTwiceIDs: []string{"msg_a", "msg_b"}, HooksNeverReceived: []string{"msg_1", "msg_2", "msg_3", "msg_4", "msg_5", "msg_6"}}
	var b bytes.Buffer
	writeReport(&b, nil, nil, at(60), ledger{}, f, "test", nil)
	for _, want := range []string{
		"webhook deliveries: 120 received by the HTTP sink, 121 recorded as delivered (3 after more than one attempt), 0 still pending; received twice: 2\n",
		"webhook deliveries received twice (webhook-id): msg_a msg_b\n",
		"webhook deliveries recorded as delivered that the HTTP sink never received: 6\n",
		"NOT RECEIVED (webhook-id): msg_1 msg_2 msg_3 msg_4 msg_5\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, b.String())
		}
	}
	var clean bytes.Buffer
	writeReport(&clean, nil, nil, at(60), ledger{}, findings{Hooks: 5, HooksInDB: 5}, "test", nil)
	if strings.Contains(clean.String(), "(webhook-id)") || !strings.Contains(clean.String(), "never received: 0\n") {
		t.Fatalf("a clean run names no webhook-id and counts 0 never received:\n%s", clean.String())
	}
}

func TestFindingsFailOnWebhooksReceivedTwiceOrNeverReceived(t *testing.T) {
	for _, c := range []struct {
		name string
		f    findings
		want bool
	}{
		{"clean", findings{Hooks: 10, HooksInDB: 10, HooksRetried: 2, Reminders: 3, SentInDB: 3}, false},
		{"webhook received twice", findings{HooksTwice: 1}, true},
		{"webhook never received", findings{HooksNeverReceived: []string{"msg_x"}}, true},
		{"reminder sent twice", findings{RemindersTwice: 1}, true},
		{"reminder never received", findings{NeverReceived: []string{"n1"}}, true},
		{"write lost", findings{Lost: map[string][]string{"exam": {"e1"}}}, true},
		{"instance did not recover", findings{ReadyFailed: []string{"recert1"}}, true},
	} {
		if got := c.f.failed(); got != c.want {
			t.Errorf("%s: failed() = %v, want %v", c.name, got, c.want)
		}
	}
}
