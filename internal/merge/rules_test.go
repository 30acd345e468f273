package merge

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

var (
	survID = uuid.MustParse("00000000-0000-0000-0000-00000000000a")
	dupID  = uuid.MustParse("00000000-0000-0000-0000-00000000000b")
	certX  = uuid.MustParse("00000000-0000-0000-0000-0000000000c1")
	certY  = uuid.MustParse("00000000-0000-0000-0000-0000000000c2")
)

func ptr[T any](v T) *T { return &v }

func validRequest() Request {
	return Request{SurvivorID: survID, DuplicateID: dupID, Reason: "same person", IdempotencyKey: "k-1"}
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Request)
		want   apperr.Code // "" for accepted
	}{
		{"a complete request is accepted", func(*Request) {}, ""},
		{"an empty reason is refused", func(r *Request) { r.Reason = "" }, apperr.BadUserInput},
		{"a blank reason is refused", func(r *Request) { r.Reason = " \t\n" }, apperr.BadUserInput},
		{"an over-long reason is refused", func(r *Request) { r.Reason = strings.Repeat("x", 2001) }, apperr.BadUserInput},
		{"an empty idempotency key is refused", func(r *Request) { r.IdempotencyKey = "" }, apperr.BadUserInput},
		{"a blank idempotency key is refused", func(r *Request) { r.IdempotencyKey = "   " }, apperr.BadUserInput},
		{"a 201-character key is refused", func(r *Request) { r.IdempotencyKey = strings.Repeat("k", 201) }, apperr.BadUserInput},
		{"a 200-character key is accepted", func(r *Request) { r.IdempotencyKey = strings.Repeat("k", 200) }, ""},
		{"an over-long ticket is refused", func(r *Request) { r.Ticket = ptr(strings.Repeat("t", 201)) }, apperr.BadUserInput},
		{"an unknown side is refused", func(r *Request) { r.KeepLearnProfileOf = ptr(Side("BOTH")) }, apperr.BadUserInput},
		{"merging a profile into itself is refused", func(r *Request) { r.DuplicateID = r.SurvivorID }, apperr.MergeSameProfile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := validRequest()
			c.change(&r)
			_, err := normalize(r)
			got := apperr.Code("")
			if err != nil {
				got = apperr.CodeOf(err)
			}
			if got != c.want {
				t.Fatalf("got %q (%v), want %q", got, err, c.want)
			}
		})
	}
	t.Run("free text is trimmed and a blank ticket dropped", func(t *testing.T) {
		r := validRequest()
		r.Reason, r.Ticket = "  same person  ", ptr("  ")
		n, err := normalize(r)
		if err != nil {
			t.Fatal(err)
		}
		if n.Reason != "same person" || n.Ticket != nil {
			t.Fatalf("got reason %q ticket %v, want %q and nil", n.Reason, n.Ticket, "same person")
		}
	})
}

func TestRequestHash(t *testing.T) {
	base := validRequest()
	h := requestHash(base)
	same := base
	same.IdempotencyKey = "another key" // the key is not part of the request
	if !bytes.Equal(requestHash(same), h) {
		t.Fatal("got a different hash for the same request under another key, want the same")
	}
	variants := map[string]func(*Request){
		"reason":    func(r *Request) { r.Reason = "other reason" },
		"ticket":    func(r *Request) { r.Ticket = ptr("T-1") },
		"keep side": func(r *Request) { r.KeepLearnProfileOf = ptr(SideSurvivor) },
		"swapped":   func(r *Request) { r.SurvivorID, r.DuplicateID = r.DuplicateID, r.SurvivorID },
		"survivor":  func(r *Request) { r.SurvivorID = uuid.New() },
	}
	for name, change := range variants {
		r := base
		change(&r)
		if bytes.Equal(requestHash(r), h) {
			t.Errorf("%s: got the same hash, want a different one", name)
		}
	}
}

func link(lp string, cp uuid.UUID) *certprofile.Link {
	return &certprofile.Link{LearnProfileID: uuid.MustParse(lp), CertificationProfileID: cp}
}

func TestPlanLink(t *testing.T) {
	sl := link("00000000-0000-0000-0000-0000000001a0", survID)
	dl := link("00000000-0000-0000-0000-0000000001b0", dupID)
	cases := []struct {
		name               string
		surv, dup          *certprofile.Link
		keep               *Side
		same               bool // both profiles belong to one account
		move, remove, drop *certprofile.Link
		code               apperr.Code
	}{
		{"neither connected: nothing to do", nil, nil, nil, true, nil, nil, nil, ""},
		{"only the survivor connected: it stays", sl, nil, nil, true, nil, nil, nil, ""},
		{"only the survivor connected, across accounts: it stays", sl, nil, nil, false, nil, nil, nil, ""},
		{"only the duplicate connected, one account: its connection moves", nil, dl, nil, true, dl, nil, nil, ""},
		{"keep is ignored when only the duplicate is connected", nil, dl, ptr(SideSurvivor), true, dl, nil, nil, ""},
		{"only the duplicate connected, across accounts: its connection is dropped", nil, dl, nil, false, nil, nil, dl, ""},
		{"across accounts the duplicate's connection never moves, whatever keep says", nil, dl, ptr(SideDuplicate), false, nil, nil, dl, ""},
		{"both connected and no choice: refused", sl, dl, nil, false, nil, nil, nil, apperr.MergeLinkConflict},
		{"both connected, keep the survivor's: the duplicate's is removed", sl, dl, ptr(SideSurvivor), false, nil, dl, nil, ""},
		{"both connected across accounts, keep the duplicate's: refused", sl, dl, ptr(SideDuplicate), false, nil, nil, nil, apperr.AccountMismatch},
		{"both connected in one account, keep the duplicate's: it moves, the survivor's is removed", sl, dl, ptr(SideDuplicate), true, dl, sl, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, err := PlanLink(c.surv, c.dup, c.keep, c.same)
			if c.code != "" {
				if apperr.CodeOf(err) != c.code {
					t.Fatalf("got %v, want %s", err, c.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan.Move != c.move || plan.Remove != c.remove || plan.Drop != c.drop {
				t.Fatalf("got %+v, want move %v remove %v drop %v", plan, c.move, c.remove, c.drop)
			}
		})
	}
}

func earned(id string, profile, cert uuid.UUID, earnedOn, expiresOn string) transcript.Earned {
	e := transcript.Earned{ID: uuid.MustParse("00000000-0000-0000-0000-" + id), ProfileID: profile,
		CertificationID: cert, EarnedOn: date.MustParse(earnedOn)}
	if expiresOn != "" {
		e.ExpiresOn = ptr(date.MustParse(expiresOn))
	}
	return e
}

func TestSupersessions(t *testing.T) {
	superseded := earned("000000000009", dupID, certX, "2020-01-10", "2021-01-10")
	superseded.SupersededAt, superseded.SupersededBy = ptr(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)), ptr(uuid.New())
	cases := []struct {
		name   string
		earned []transcript.Earned
		want   map[string]string // loser id suffix -> winner id suffix
	}{
		{
			"different certifications: nothing superseded",
			[]transcript.Earned{earned("000000000001", survID, certX, "2020-05-01", "2021-05-01"),
				earned("000000000002", dupID, certY, "2020-06-01", "2021-06-01")},
			map[string]string{},
		},
		{
			"the duplicate's later expiry stays current",
			[]transcript.Earned{earned("000000000001", survID, certX, "2020-05-01", "2021-05-01"),
				earned("000000000002", dupID, certX, "2020-08-31", "2021-08-31")},
			map[string]string{"000000000001": "000000000002"},
		},
		{
			"the survivor's later expiry stays current",
			[]transcript.Earned{earned("000000000001", survID, certX, "2020-09-30", "2021-09-30"),
				earned("000000000002", dupID, certX, "2020-08-31", "2021-08-31")},
			map[string]string{"000000000002": "000000000001"},
		},
		{
			"equal expiry keeps the survivor's",
			[]transcript.Earned{earned("000000000001", survID, certX, "2020-02-29", "2021-02-28"),
				earned("000000000002", dupID, certX, "2020-02-28", "2021-02-28")},
			map[string]string{"000000000002": "000000000001"},
		},
		{
			"fundamentals (no expiry) keep the survivor's",
			[]transcript.Earned{earned("000000000001", survID, certX, "2019-01-01", ""),
				earned("000000000002", dupID, certX, "2020-01-01", "")},
			map[string]string{"000000000002": "000000000001"},
		},
		{
			"an expired survivor record loses to the duplicate's current one",
			[]transcript.Earned{earned("000000000001", survID, certX, "2018-03-01", "2019-03-01"),
				earned("000000000002", dupID, certX, "2020-08-31", "2021-08-31")},
			map[string]string{"000000000001": "000000000002"},
		},
		{
			"only each side's latest record is compared; older history stays",
			[]transcript.Earned{
				earned("000000000001", survID, certX, "2017-01-01", "2018-01-01"), // survivor history
				earned("000000000003", survID, certX, "2020-07-01", "2021-07-01"), // survivor current
				earned("000000000002", dupID, certX, "2020-08-31", "2021-08-31")},
			map[string]string{"000000000003": "000000000002"},
		},
		{
			"a record already superseded is not current",
			[]transcript.Earned{superseded,
				earned("000000000001", survID, certX, "2020-05-01", "2021-05-01")},
			map[string]string{},
		},
		{
			"several certifications at once",
			[]transcript.Earned{
				earned("000000000001", survID, certX, "2020-05-01", "2021-05-01"),
				earned("000000000002", dupID, certX, "2020-08-31", "2021-08-31"),
				earned("000000000003", survID, certY, "2020-12-31", "2021-12-31"),
				earned("000000000004", dupID, certY, "2020-11-30", "2021-11-30")},
			map[string]string{"000000000001": "000000000002", "000000000004": "000000000003"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Supersessions(survID, c.earned)
			if len(got) != len(c.want) {
				t.Fatalf("got %d supersessions %+v, want %d", len(got), got, len(c.want))
			}
			for _, s := range got {
				loser, winner := s.Loser.ID.String()[24:], s.Winner.ID.String()[24:]
				if c.want[loser] != winner {
					t.Fatalf("got %s superseded by %s, want %v", loser, winner, c.want)
				}
				if s.Loser.CertificationID != s.Winner.CertificationID {
					t.Fatalf("got a supersession across certifications")
				}
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	sl := link("00000000-0000-0000-0000-0000000001a0", survID)
	dl := link("00000000-0000-0000-0000-0000000001b0", dupID)
	loser := earned("000000000001", survID, certX, "2020-05-01", "2021-05-01")
	winner := earned("000000000002", dupID, certX, "2020-08-31", "2021-08-31")
	sup := []Supersession{{Loser: loser, Winner: winner}}
	t.Run("nothing to report", func(t *testing.T) {
		if got := Conflicts(survID, sl, nil, false, nil, nil); len(got) != 0 {
			t.Fatalf("got %v, want none", got)
		}
		if got := Conflicts(survID, nil, dl, true, nil, nil); len(got) != 0 {
			t.Fatalf("got %v, want none", got)
		}
	})
	t.Run("both connected", func(t *testing.T) {
		got := Conflicts(survID, sl, dl, false, nil, nil)
		if len(got) != 1 || !strings.HasPrefix(got[0], "MERGE_LINK_CONFLICT: ") || !strings.Contains(got[0], "SURVIVOR") {
			t.Fatalf("got %v, want one MERGE_LINK_CONFLICT saying only SURVIVOR can be kept", got)
		}
	})
	t.Run("only the duplicate connected, to another account's Learn profile", func(t *testing.T) {
		got := Conflicts(survID, nil, dl, false, nil, nil)
		if len(got) != 1 || !strings.HasPrefix(got[0], "ACCOUNT_MISMATCH: ") || !strings.Contains(got[0], "drops") {
			t.Fatalf("got %v, want one ACCOUNT_MISMATCH saying the connection is dropped", got)
		}
	})
	t.Run("attempts in progress on both sides", func(t *testing.T) {
		got := Conflicts(survID, nil, nil, true, []Attempt{
			{ProfileID: survID, EarnedID: loser.ID}, {ProfileID: dupID, EarnedID: winner.ID},
		}, sup)
		if len(got) != 2 {
			t.Fatalf("got %v, want 2 conflicts", got)
		}
		if !strings.HasPrefix(got[0], "ATTEMPT_IN_PROGRESS: the survivor") || !strings.Contains(got[0], "SUPERSEDED") {
			t.Fatalf("got %q, want the survivor's attempt on a superseded certification", got[0])
		}
		if !strings.HasPrefix(got[1], "ATTEMPT_IN_PROGRESS: the duplicate") || strings.Contains(got[1], "SUPERSEDED") {
			t.Fatalf("got %q, want the duplicate's attempt, not superseded", got[1])
		}
	})
}
