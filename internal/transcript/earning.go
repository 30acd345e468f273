package transcript

import (
	"slices"
	"sort"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
)

// Pass is one passed exam on a calendar day: the UTC date of the result's takenAt.
type Pass struct {
	Exam string
	Day  date.Date
}

// Rule is how a certification is earned (docs/domain.md "Requirement paths"): every exam of any
// one of Paths passed and, when Prerequisites is not empty, any one of those certifications
// held on the day.
type Rule struct {
	Certification catalog.Certification
	Paths         [][]string
	Prerequisites []uuid.UUID
}

// uses reports whether exam is part of one of r's paths.
func (r Rule) uses(exam string) bool {
	for _, p := range r.Paths {
		if slices.Contains(p, exam) {
			return true
		}
	}
	return false
}

// Earn returns the earned certifications that the new pass p brings, given the rules of the
// certifications concerned, every pass of the profile (p included) and the profile's existing
// earned certifications. It never changes an existing record (docs/domain.md "Earned
// certifications"):
//
//   - A certification is earned on a day D when a pass on D completes one of its paths: every
//     exam of the path has a counting pass on or before D, one of them on D. Passes count from
//     the day after the certification's previous earning on or before D: after expiry every
//     exam of a path must be passed again to earn it again.
//   - A retired certification is not earned after its retirement date (Retired).
//   - With prerequisites, one of them must be held on D: earned on or before D, not expired on
//     D, not superseded.
//   - It is valid from D to ExpiryFor(D) (fundamentals never expire). A new record never
//     overlaps an existing one of the same certification: a pass while the certification is
//     held changes nothing but exam history (AZ-104 after AZ-103, a retake), and a late result
//     that would have earned it before an existing record starts is only history too.
//
// The rules evaluated are those whose paths use p's exam, from p's day on, and, in dependency
// order, those with a prerequisite this very evaluation earned, from that earning's day on; so
// an expert completed the day its associate is earned counts. Each is evaluated on every day,
// from that start, on which the profile passed one of its exams, so a late result for an
// earlier date gives what the results would have given in date order (a late first exam of a
// two-exam path completes the path on the day of the second pass).
//
// rules must hold every certification whose paths use p's exam and every certification that
// lists one of those as a prerequisite, transitively; other rules are ignored unless a
// prerequisite of theirs is earned here. Superseded records are ignored.
func Earn(p Pass, rules []Rule, passes []Pass, records []Earned) []Earned {
	var recs []Earned
	for _, e := range records {
		if e.SupersededAt == nil {
			recs = append(recs, e)
		}
	}
	var out []Earned
	newFrom := map[uuid.UUID]date.Date{} // certification -> earliest day earned here
	for _, r := range dependencyOrder(rules) {
		start, active := date.Date{}, false
		if r.uses(p.Exam) {
			start, active = p.Day, true
		}
		for _, pre := range r.Prerequisites {
			if d, ok := newFrom[pre]; ok && (!active || d.Before(start)) {
				start, active = d, true
			}
		}
		if !active {
			continue
		}
		for _, day := range passDays(r, passes, start) {
			e, ok := earnOn(r, day, passes, recs)
			if !ok {
				continue
			}
			recs = append(recs, e)
			out = append(out, e)
			if d, seen := newFrom[e.CertificationID]; !seen || day.Before(d) {
				newFrom[e.CertificationID] = day
			}
		}
	}
	return out
}

// earnOn decides whether r is earned on day, given the records so far.
func earnOn(r Rule, day date.Date, passes []Pass, recs []Earned) (Earned, bool) {
	cert := r.Certification
	if Retired(cert.RetiredOn, day) { // issue 13: a retired certification is not earned any more
		return Earned{}, false
	}
	expires := cert.ExpiryFor(day)
	var last *date.Date // the previous earning on or before day
	for i := range recs {
		e := &recs[i]
		if e.CertificationID != cert.ID {
			continue
		}
		if overlaps(day, expires, e.EarnedOn, e.ExpiresOn) {
			return Earned{}, false
		}
		if !e.EarnedOn.After(day) && (last == nil || e.EarnedOn.After(*last)) {
			last = &e.EarnedOn
		}
	}
	counts := func(q Pass) bool { return !q.Day.After(day) && (last == nil || q.Day.After(*last)) }
	if !slices.ContainsFunc(r.Paths, func(path []string) bool { return completedOn(path, day, passes, counts) }) {
		return Earned{}, false
	}
	if len(r.Prerequisites) > 0 && !slices.ContainsFunc(r.Prerequisites, func(id uuid.UUID) bool { return heldOn(id, day, recs) }) {
		return Earned{}, false
	}
	return Earned{CertificationID: cert.ID, EarnedOn: day, ExpiresOn: expires}, true
}

// completedOn reports whether path is complete on day with the counting passes, one of its
// exams passed on day itself.
func completedOn(path []string, day date.Date, passes []Pass, counts func(Pass) bool) bool {
	if len(path) == 0 {
		return false
	}
	today := false
	for _, exam := range path {
		found := false
		for _, q := range passes {
			if q.Exam == exam && counts(q) {
				found = true
				if q.Day == day {
					today = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return today
}

// heldOn reports whether a record of the certification is valid on day.
func heldOn(certID uuid.UUID, day date.Date, recs []Earned) bool {
	for _, e := range recs {
		if e.CertificationID == certID && !e.EarnedOn.After(day) && (e.ExpiresOn == nil || day.Before(*e.ExpiresOn)) {
			return true
		}
	}
	return false
}

// overlaps reports whether [aFrom, aTo) and [bFrom, bTo) intersect; a nil end never comes.
func overlaps(aFrom date.Date, aTo *date.Date, bFrom date.Date, bTo *date.Date) bool {
	return (bTo == nil || aFrom.Before(*bTo)) && (aTo == nil || bFrom.Before(*aTo))
}

// passDays lists, ascending and without repeats, the days on or after start on which one of
// r's exams was passed.
func passDays(r Rule, passes []Pass, start date.Date) []date.Date {
	var days []date.Date
	for _, q := range passes {
		if !q.Day.Before(start) && r.uses(q.Exam) && !slices.Contains(days, q.Day) {
			days = append(days, q.Day)
		}
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	return days
}

// dependencyOrder sorts rules so that a certification comes after its prerequisites among
// them, otherwise by code. A cycle (which catalog validation refuses) is broken by code.
func dependencyOrder(rules []Rule) []Rule {
	rest := slices.Clone(rules)
	sort.Slice(rest, func(i, j int) bool { return rest[i].Certification.Code < rest[j].Certification.Code })
	out := make([]Rule, 0, len(rest))
	placed := map[uuid.UUID]bool{}
	for len(rest) > 0 {
		pick := -1
		for i, r := range rest {
			ready := true
			for _, pre := range r.Prerequisites {
				if !placed[pre] && slices.ContainsFunc(rest, func(o Rule) bool { return o.Certification.ID == pre }) {
					ready = false
					break
				}
			}
			if ready {
				pick = i
				break
			}
		}
		if pick < 0 {
			pick = 0
		}
		placed[rest[pick].Certification.ID] = true
		out = append(out, rest[pick])
		rest = slices.Delete(rest, pick, pick+1)
	}
	return out
}
