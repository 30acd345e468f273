package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// attempt is one try of one write, as the client saw it.
type attempt struct {
	Kind       string // "exam", "merge", "start", "submit"
	Start, End time.Time
	OK         bool // acknowledged: a success answer (or a replay of one)
}

// event is one planned switchover or kill of the primary.
type event struct {
	Name        string    // "switchover 1", "kill -9 1"
	From, To    string    // old and new leader
	Start       time.Time // when the drill asked for it (or killed)
	Healthy     time.Time // when the cluster had a leader, a synchronous standby and 3 members again
	HealthyWait time.Duration
}

// outage is the write outage of one event.
type outage struct {
	Failed   int           // failed write attempts in the event's window
	Duration time.Duration // first failed attempt's start to the first acknowledgement after the last failure
	Open     bool          // no write was acknowledged after the last failure in the window
}

// outageOf measures the write outage of the event whose window is [from, to). The window's
// failures are the failed attempts that ended in it (an attempt in flight when the next event
// began and failed after it belongs to that next event). The outage runs from the start of
// the first of them (not before from) to the end of the first acknowledged attempt that
// started after the last of them began. Taking the last failure (not the first success)
// makes the figure an upper bound: a lucky write on a surviving connection does not end the
// outage while other writes still fail.
func outageOf(attempts []attempt, from, to time.Time) outage {
	var o outage
	var first, last time.Time
	for _, a := range attempts {
		if a.OK || a.End.Before(from) || !a.End.Before(to) {
			continue
		}
		o.Failed++
		start := a.Start
		if start.Before(from) {
			start = from
		}
		if first.IsZero() || start.Before(first) {
			first = start
		}
		if a.Start.After(last) {
			last = a.Start
		}
	}
	if o.Failed == 0 {
		return o
	}
	var ack time.Time
	for _, a := range attempts {
		if a.OK && a.Start.After(last) && (ack.IsZero() || a.End.Before(ack)) {
			ack = a.End
		}
	}
	if ack.IsZero() {
		o.Open = true
		return o
	}
	o.Duration = ack.Sub(first)
	return o
}

// ledger is what the writers were told: the writes acknowledged, by kind, with their keys.
type ledger struct {
	Exams   []string // externalIds of acknowledged recordExamResult calls
	Merges  []string // duplicate profile ids (uuid) of acknowledged merges
	Starts  []string // attempt ids (uuid) of acknowledged startRenewalAssessment calls
	Submits []string // attempt ids (uuid) of acknowledged submitRenewalAssessment calls
	// CommittedDespiteError counts writes whose retry showed they had been committed although
	// the client got an error (ATTEMPT_IN_PROGRESS, ATTEMPT_ALREADY_SUBMITTED, ...).
	CommittedDespiteError int
}

func (l ledger) total() int { return len(l.Exams) + len(l.Merges) + len(l.Starts) + len(l.Submits) }

// missing returns the keys of want that are not in have.
func missing(want []string, have map[string]bool) []string {
	var out []string
	for _, k := range want {
		if !have[k] {
			out = append(out, k)
		}
	}
	return out
}

// findings are the end-of-run checks.
type findings struct {
	Lost           map[string][]string // kind -> acknowledged keys the database does not hold
	DuplicateExams int                 // externalIds stored more than once
	Reminders      int                 // distinct reminders received by the SMTP sink
	RemindersTwice int                 // reminders (by Message-ID) received more than once
	TwiceIDs       []string            // the first few Message-IDs received more than once
	SentInDB       int                 // notifications the database records as sent (the drill's)
	NeverReceived  []string            // notifications recorded as sent whose email the sink never got
	// Webhook deliveries to the drill's endpoint, by webhook-id (the event's: the same on a retry).
	Hooks              int      // distinct webhook-ids the HTTP sink received
	HooksTwice         int      // webhook-ids received more than once
	HooksTwiceIDs      []string // the first few of those
	HooksInDB          int      // deliveries the database records as delivered
	HooksRetried       int      // of those, delivered after more than one attempt
	HooksNeverReceived []string // webhook-ids recorded as delivered that the sink never received
	HooksPending       int      // deliveries still neither delivered nor given up at the check
	ReadyRecovered     map[string]time.Duration
	ReadyFailed        []string // instances whose /readyz did not answer 200 at the end
	Restarted          []string // instances that exited during the drill (none are restarted)
}

// failed reports whether the drill found something wrong: a write lost or stored twice, a
// reminder or webhook sent twice or recorded as sent but never received, or an instance that
// did not recover.
func (f findings) failed() bool {
	return f.lostCount() > 0 || f.DuplicateExams > 0 || f.RemindersTwice > 0 || len(f.NeverReceived) > 0 ||
		f.HooksTwice > 0 || len(f.HooksNeverReceived) > 0 || len(f.ReadyFailed)+len(f.Restarted) > 0
}

func (f findings) lostCount() int {
	n := 0
	for _, ks := range f.Lost {
		n += len(ks)
	}
	return n
}

// writeReport prints the per-event table and the totals; its last line is the verdict.
// notes are printed just before the verdict.
func writeReport(w io.Writer, events []event, attempts []attempt, end time.Time, l ledger, f findings, settings string, notes []string) {
	fmt.Fprintf(w, "\nRecert failover drill: %s\n", settings)
	fmt.Fprintf(w, "%-14s %-8s %-8s %14s %10s %16s\n", "event", "from", "to", "write outage", "failed", "cluster healthy")
	for i, ev := range events {
		to := end
		if i+1 < len(events) {
			to = events[i+1].Start
		}
		o := outageOf(attempts, ev.Start, to)
		d := "none"
		switch {
		case o.Open:
			d = "not recovered"
		case o.Failed > 0:
			d = fmt.Sprintf("%.1f s", o.Duration.Seconds())
		}
		fmt.Fprintf(w, "%-14s %-8s %-8s %14s %10d %14.1f s\n", ev.Name, ev.From, ev.To, d, o.Failed, ev.HealthyWait.Seconds())
	}
	byKind := map[string][2]int{}
	for _, a := range attempts {
		c := byKind[a.Kind]
		if a.OK {
			c[0]++
		} else {
			c[1]++
		}
		byKind[a.Kind] = c
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "write attempts:")
	for _, k := range kinds {
		fmt.Fprintf(w, " %s %d ok / %d failed;", k, byKind[k][0], byKind[k][1])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "acknowledged writes: %d exam results, %d merges, %d renewal starts, %d renewal submits (%d more were committed although the client got an error)\n",
		len(l.Exams), len(l.Merges), len(l.Starts), len(l.Submits), l.CommittedDespiteError)
	lostKinds := make([]string, 0, len(f.Lost))
	for k := range f.Lost {
		lostKinds = append(lostKinds, k)
	}
	sort.Strings(lostKinds)
	for _, k := range lostKinds {
		if ks := f.Lost[k]; len(ks) > 0 {
			fmt.Fprintf(w, "LOST %s: %d acknowledged, not in the database (first: %s)\n", k, len(ks), ks[0])
		}
	}
	fmt.Fprintf(w, "acknowledged writes missing from the database: %d\n", f.lostCount())
	fmt.Fprintf(w, "duplicate exam results (same externalId stored twice): %d\n", f.DuplicateExams)
	fmt.Fprintf(w, "reminders: %d received by the SMTP sink, %d recorded as sent; sent twice: %d\n", f.Reminders, f.SentInDB, f.RemindersTwice)
	if len(f.TwiceIDs) > 0 {
		fmt.Fprintf(w, "reminders sent twice (Message-ID): %s\n", strings.Join(f.TwiceIDs, " "))
	}
	fmt.Fprintf(w, "reminders recorded as sent that the SMTP sink never received: %d\n", len(f.NeverReceived))
	if len(f.NeverReceived) > 0 {
		fmt.Fprintf(w, "NOT RECEIVED (notification id): %s\n", strings.Join(f.NeverReceived[:min(len(f.NeverReceived), 5)], " "))
	}
	fmt.Fprintf(w, "webhook deliveries: %d received by the HTTP sink, %d recorded as delivered (%d after more than one attempt), %d still pending; received twice: %d\n",
		f.Hooks, f.HooksInDB, f.HooksRetried, f.HooksPending, f.HooksTwice)
	if len(f.HooksTwiceIDs) > 0 {
		fmt.Fprintf(w, "webhook deliveries received twice (webhook-id): %s\n", strings.Join(f.HooksTwiceIDs, " "))
	}
	fmt.Fprintf(w, "webhook deliveries recorded as delivered that the HTTP sink never received: %d\n", len(f.HooksNeverReceived))
	if len(f.HooksNeverReceived) > 0 {
		fmt.Fprintf(w, "NOT RECEIVED (webhook-id): %s\n", strings.Join(f.HooksNeverReceived[:min(len(f.HooksNeverReceived), 5)], " "))
	}
	names := make([]string, 0, len(f.ReadyRecovered))
	for n := range f.ReadyRecovered {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "%s /readyz recovered without a restart (200 within %.1f s of the end check)\n", n, f.ReadyRecovered[n].Seconds())
	}
	for _, n := range f.ReadyFailed {
		fmt.Fprintf(w, "%s /readyz did NOT recover\n", n)
	}
	for _, n := range f.Restarted {
		fmt.Fprintf(w, "%s exited during the drill\n", n)
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintf(w, "lost %d of %d acknowledged writes\n", f.lostCount(), l.total())
}
