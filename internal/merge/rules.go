package merge

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/transcript"
)

// Input limits. The key limit is the idempotency_keys CHECK; the others keep audit rows sane.
const (
	maxKeyLen    = 200
	maxReasonLen = 2000
	maxTicketLen = 200
)

// normalize validates a merge request and trims its free text.
// Codes: BAD_USER_INPUT (blank reason, empty or over-long key, over-long ticket, side not
// SURVIVOR or DUPLICATE), MERGE_SAME_PROFILE.
func normalize(r Request) (Request, error) {
	r.Reason = strings.TrimSpace(r.Reason)
	if r.Reason == "" {
		return r, apperr.Invalid("reason is required: say why these profiles are being merged")
	}
	if utf8.RuneCountInString(r.Reason) > maxReasonLen {
		return r, apperr.Invalid("reason must be at most %d characters", maxReasonLen)
	}
	if r.Ticket != nil {
		t := strings.TrimSpace(*r.Ticket)
		switch {
		case t == "":
			r.Ticket = nil
		case utf8.RuneCountInString(t) > maxTicketLen:
			return r, apperr.Invalid("ticket must be at most %d characters", maxTicketLen)
		default:
			r.Ticket = &t
		}
	}
	if strings.TrimSpace(r.IdempotencyKey) == "" {
		return r, apperr.Invalid("idempotencyKey is required: send a new random key per merge, and the same key when retrying it")
	}
	if utf8.RuneCountInString(r.IdempotencyKey) > maxKeyLen {
		return r, apperr.Invalid("idempotencyKey must be at most %d characters", maxKeyLen)
	}
	if r.KeepLearnProfileOf != nil && *r.KeepLearnProfileOf != SideSurvivor && *r.KeepLearnProfileOf != SideDuplicate {
		return r, apperr.Invalid("keepLearnProfileOf must be SURVIVOR or DUPLICATE")
	}
	if r.SurvivorID == r.DuplicateID {
		return r, apperr.E(apperr.MergeSameProfile, "the survivor and the duplicate are the same profile")
	}
	return r, nil
}

// requestHash is the SHA-256 of the canonical form of a normalized request: everything that
// decides what the merge does, but not the key itself. Two requests with one key are "the
// same request" exactly when their hashes are equal.
func requestHash(r Request) []byte {
	keep := ""
	if r.KeepLearnProfileOf != nil {
		keep = string(*r.KeepLearnProfileOf)
	}
	ticket := ""
	if r.Ticket != nil {
		ticket = *r.Ticket
	}
	// A JSON array of fixed positions: unambiguous, stable across Go versions.
	b, _ := json.Marshal([]string{"merge/v1", r.SurvivorID.String(), r.DuplicateID.String(), r.Reason, ticket, keep})
	sum := sha256.Sum256(b)
	return sum[:]
}

// checkSides refuses a merge involving a profile that is already merged away.
// Codes: PROFILE_ALREADY_MERGED.
func checkSides(survivor, duplicate certprofile.Profile) error {
	if duplicate.Status == certprofile.StatusMerged {
		return apperr.E(apperr.ProfileAlreadyMerged, "the duplicate (MCID %s) has already been merged into another profile",
			duplicate.MCIDString())
	}
	if survivor.Status == certprofile.StatusMerged {
		return apperr.E(apperr.ProfileAlreadyMerged, "the survivor (MCID %s) has itself been merged into another profile; merge into the profile it was merged into",
			survivor.MCIDString())
	}
	return nil
}

// LinkPlan is what a merge does with the Learn profile connections of the two profiles.
type LinkPlan struct {
	// Move is the duplicate's connection, which moves to the survivor; nil when none moves.
	Move *certprofile.Link
	// Remove is the connection given up because both profiles were connected and the request
	// chose the other one; nil when none is. The audit event keeps it.
	Remove *certprofile.Link
	// Drop is the duplicate's connection when the two profiles belong to different accounts
	// and only the duplicate is connected: a Learn profile is only ever connected to a
	// profile of its own account, so it cannot move and is dropped (the audit event keeps
	// it); nil otherwise.
	Drop *certprofile.Link
}

// PlanLink applies docs/domain.md "Merging" and "Connecting the profiles" to the connections.
// Only the duplicate connected: its connection moves when both profiles belong to one
// account, and is dropped when they do not (its Learn profile is another account's). Both
// connected (necessarily to different Learn profiles: a Learn profile connects to one
// certification profile), the request must choose (chosen rule); keeping the duplicate's is
// refused across accounts. keep is ignored when at most one side is connected.
// Codes: MERGE_LINK_CONFLICT, ACCOUNT_MISMATCH.
func PlanLink(survivor, duplicate *certprofile.Link, keep *Side, sameAccount bool) (LinkPlan, error) {
	switch {
	case duplicate == nil:
		return LinkPlan{}, nil
	case survivor == nil && sameAccount:
		return LinkPlan{Move: duplicate}, nil
	case survivor == nil:
		return LinkPlan{Drop: duplicate}, nil
	case keep == nil:
		return LinkPlan{}, apperr.E(apperr.MergeLinkConflict,
			"both profiles are connected to different Learn profiles; say which connection to keep (keepLearnProfileOf: SURVIVOR or DUPLICATE)")
	case *keep == SideDuplicate && !sameAccount:
		return LinkPlan{}, apperr.E(apperr.AccountMismatch,
			"the duplicate's Learn profile belongs to another account than the survivor, so it cannot be connected to the survivor; keep the survivor's connection (keepLearnProfileOf: SURVIVOR)")
	case *keep == SideDuplicate:
		return LinkPlan{Move: duplicate, Remove: survivor}, nil
	default:
		return LinkPlan{Remove: duplicate}, nil
	}
}

// Supersession marks Loser SUPERSEDED by Winner.
type Supersession struct {
	Loser  transcript.Earned
	Winner transcript.Earned
}

// Supersessions applies docs/domain.md "Merging" (the same certification held in both: the later
// expiry stays current, the other is SUPERSEDED, chosen) to the earned certifications of both
// sides (told apart by ProfileID). A side's current record of a certification is its
// not-superseded record with the latest expiry; older records of the same side are history
// and stay as they are. Ties keep the survivor's record current; fundamentals (no expiry, so
// always a tie) keep the survivor's. The result is ordered by certification id.
func Supersessions(survivorID uuid.UUID, earned []transcript.Earned) []Supersession {
	type pair struct{ surv, dup *transcript.Earned }
	byCert := map[uuid.UUID]*pair{}
	for i := range earned {
		e := &earned[i]
		if e.SupersededAt != nil {
			continue
		}
		p := byCert[e.CertificationID]
		if p == nil {
			p = &pair{}
			byCert[e.CertificationID] = p
		}
		slot := &p.dup
		if e.ProfileID == survivorID {
			slot = &p.surv
		}
		if *slot == nil || newer(*e, **slot) {
			*slot = e
		}
	}
	var out []Supersession
	for _, p := range byCert {
		if p.surv == nil || p.dup == nil {
			continue
		}
		if expiresLater(*p.dup, *p.surv) {
			out = append(out, Supersession{Loser: *p.surv, Winner: *p.dup})
		} else {
			out = append(out, Supersession{Loser: *p.dup, Winner: *p.surv})
		}
	}
	slices.SortFunc(out, func(a, b Supersession) int {
		return strings.Compare(a.Loser.CertificationID.String(), b.Loser.CertificationID.String())
	})
	return out
}

// expiresLater reports whether a expires strictly later than b; no expiry is never.
func expiresLater(a, b transcript.Earned) bool {
	switch {
	case a.ExpiresOn == nil:
		return b.ExpiresOn != nil
	case b.ExpiresOn == nil:
		return false
	default:
		return a.ExpiresOn.After(*b.ExpiresOn)
	}
}

// newer reports whether a is a more recent record than b of one side: later expiry, then
// later earned date, then later creation (deterministic).
func newer(a, b transcript.Earned) bool {
	if expiresLater(a, b) {
		return true
	}
	if expiresLater(b, a) {
		return false
	}
	if c := a.EarnedOn.Compare(b.EarnedOn); c != 0 {
		return c > 0
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return strings.Compare(a.ID.String(), b.ID.String()) > 0
}

// Conflicts lists what support should look at before merging, as "CODE: explanation"
// strings: both profiles connected to different Learn profiles (the merge needs
// keepLearnProfileOf), the duplicate connected to a Learn profile of another account than the
// survivor's (the merge drops that connection instead of moving it), and renewal attempts in
// progress on either side (they move with their certification; one on a record the merge
// supersedes can no longer renew it).
func Conflicts(survivorID uuid.UUID, survivorLink, duplicateLink *certprofile.Link, sameAccount bool, inProgress []Attempt, superseded []Supersession) []string {
	out := []string{}
	switch {
	case survivorLink != nil && duplicateLink != nil && sameAccount:
		out = append(out, string(apperr.MergeLinkConflict)+
			": both profiles are connected to different Learn profiles; the merge must say which connection to keep (keepLearnProfileOf)")
	case survivorLink != nil && duplicateLink != nil:
		out = append(out, string(apperr.MergeLinkConflict)+
			": both profiles are connected to different Learn profiles; the merge must say keepLearnProfileOf: SURVIVOR (the duplicate's Learn profile belongs to another account and cannot be connected to the survivor)")
	case duplicateLink != nil && !sameAccount:
		out = append(out, string(apperr.AccountMismatch)+
			": the duplicate is connected to a Learn profile of another account than the survivor's; the merge drops that connection instead of moving it (that account's owner can connect their Learn profile again to a profile of their own)")
	}
	losers := map[uuid.UUID]bool{}
	for _, s := range superseded {
		losers[s.Loser.ID] = true
	}
	for _, side := range []string{"survivor", "duplicate"} {
		n, onLoser := 0, 0
		for _, a := range inProgress {
			if (a.ProfileID == survivorID) != (side == "survivor") {
				continue
			}
			n++
			if losers[a.EarnedID] {
				onLoser++
			}
		}
		if n == 0 {
			continue
		}
		msg := fmt.Sprintf("%s: the %s has %d renewal assessment attempt(s) in progress", apperr.AttemptInProgress, side, n)
		if onLoser > 0 {
			msg += fmt.Sprintf(", %d of them on a certification the merge would mark SUPERSEDED", onLoser)
		}
		out = append(out, msg)
	}
	return out
}
