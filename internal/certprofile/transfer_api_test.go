package certprofile_test

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

const startTransfer = `mutation($id: ID!) { startCertificationProfileTransfer(input: {certificationProfileId: $id}) {
  transfer { code expiresAt } } }`

const completeTransfer = `mutation($code: String!) { completeCertificationProfileTransfer(input: {code: $code}) {
  certificationProfile { id mcid learnProfile { id } } } }`

type transferOut struct {
	Code      string
	ExpiresAt time.Time
}

func start(t *testing.T, env *apitest.Env, who apitest.Identity, profileID string) transferOut {
	t.Helper()
	var out struct {
		StartCertificationProfileTransfer struct{ Transfer transferOut }
	}
	env.MustDo(who, startTransfer, map[string]any{"id": profileID}, &out)
	return out.StartCertificationProfileTransfer.Transfer
}

type completedOut struct {
	CompleteCertificationProfileTransfer struct {
		CertificationProfile struct {
			ID, MCID     string
			LearnProfile *struct{ ID string }
		}
	}
}

const auditQuery = `query($mcid: String!) { certificationProfile(mcid: $mcid) {
  auditEvents(first: 50) { nodes { action actor reason ticket details } } } }`

type auditOut struct {
	CertificationProfile struct {
		AuditEvents struct {
			Nodes []struct {
				Action, Actor  string
				Reason, Ticket *string
				Details        string
			}
		}
	}
}

func auditActions(t *testing.T, env *apitest.Env, mcid string) []string {
	t.Helper()
	var out auditOut
	env.MustDo(apitest.Support("agent"), auditQuery, map[string]any{"mcid": mcid}, &out)
	var actions []string
	for _, n := range out.CertificationProfile.AuditEvents.Nodes {
		actions = append(actions, n.Action)
	}
	slices.Sort(actions)
	return actions
}

// The walk-through of issue 13 part 3: the profile moves to the account that completes the
// code, the old connection (to the old account's Learn profile) is removed, the new owner
// connects their own Learn profile, and support sees both steps.
func TestTransferMovesTheProfileToTheReceivingAccount(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	env.Clock.Set(time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC))
	oldAcc, newAcc := apitest.Learner("kenji-old"), apitest.Learner("kenji-new")
	p := create(t, env, oldAcc, "Kenji Sato", "kenji@example.com")
	link(t, env, oldAcc, p.ID)

	tr := start(t, env, oldAcc, p.ID)
	if want := time.Date(2021, 3, 1, 9, 30, 0, 0, time.UTC); !tr.ExpiresAt.Equal(want) {
		t.Fatalf("got expiresAt %s, want %s", tr.ExpiresAt, want)
	}
	if len(tr.Code) < 26 {
		t.Fatalf("got code %q, want at least 128 bits", tr.Code)
	}
	sum := sha256.Sum256([]byte(tr.Code))
	if n := count(t, env, `SELECT count(*) FROM profile_transfers WHERE code_hash = $1`, sum[:]); n != 1 {
		t.Fatalf("got %d transfers stored under the code's SHA-256, want 1 (only the hash is kept)", n)
	}

	env.Clock.Set(time.Date(2021, 3, 1, 9, 29, 59, 0, time.UTC))
	var out completedOut
	env.MustDo(newAcc, completeTransfer, map[string]any{"code": tr.Code}, &out)
	got := out.CompleteCertificationProfileTransfer.CertificationProfile
	if got.ID != p.ID || got.MCID != p.MCID || got.LearnProfile != nil {
		t.Fatalf("got %+v, want profile %s (%s) with no connection", got, p.ID, p.MCID)
	}
	if byMCID(t, env, oldAcc, p.MCID) != nil {
		t.Fatal("the old account still sees the profile, want it gone")
	}
	if n := count(t, env, `SELECT count(*) FROM profile_links WHERE certification_profile_id = $1`, profileUUID(t, env, p.MCID)); n != 0 {
		t.Fatalf("got %d links, want the old connection removed", n)
	}
	l := link(t, env, newAcc, p.ID)
	if l.LearnProfile.ID != viewerLearnProfileID(t, env, newAcc) {
		t.Fatalf("got Learn profile %s connected, want the new account's", l.LearnProfile.ID)
	}

	fails(t, env, newAcc, completeTransfer, map[string]any{"code": tr.Code}, "NOT_FOUND")
	want := []string{"profile.link", "profile.link", "profile.transfer.complete", "profile.transfer.start", "profile.unlink"}
	if got := auditActions(t, env, p.MCID); !slices.Equal(got, want) {
		t.Fatalf("got audit actions %v, want %v", got, want)
	}
}

func TestTransferRefusals(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, apitest.WithEnv(map[string]string{"MAX_PROFILES_PER_ACCOUNT": "2"}))
	env.Clock.Set(time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC))
	owner, receiver := apitest.Learner("owner"), apitest.Learner("receiver")
	p := create(t, env, owner, "Owner Example", "owner@example.com")
	code := func() string { return start(t, env, owner, p.ID).Code }

	t.Run("a work account cannot start", func(t *testing.T) {
		fails(t, env, apitest.Work("owner-work"), startTransfer, map[string]any{"id": p.ID}, "PERSONAL_ACCOUNT_REQUIRED")
	})
	t.Run("someone else's profile is not found", func(t *testing.T) {
		fails(t, env, receiver, startTransfer, map[string]any{"id": p.ID}, "NOT_FOUND")
	})
	t.Run("support does not act for the learner", func(t *testing.T) {
		fails(t, env, apitest.Support("agent"), startTransfer, map[string]any{"id": p.ID}, "FORBIDDEN")
	})
	t.Run("a work account cannot receive", func(t *testing.T) {
		fails(t, env, apitest.Work("receiver-work"), completeTransfer, map[string]any{"code": code()}, "PERSONAL_ACCOUNT_REQUIRED")
	})
	t.Run("an unknown code is not found", func(t *testing.T) {
		fails(t, env, receiver, completeTransfer, map[string]any{"code": "abcdefghijklmnopqrstuvwxyz234567"}, "NOT_FOUND")
	})
	t.Run("the owner's own account gets BAD_USER_INPUT and the code stays usable", func(t *testing.T) {
		c := code()
		fails(t, env, owner, completeTransfer, map[string]any{"code": c}, "BAD_USER_INPUT")
		if n := count(t, env, `SELECT count(*) FROM profile_transfers WHERE completed_at IS NULL AND revoked_at IS NULL`); n != 1 {
			t.Fatalf("got %d open transfers, want the code still open", n)
		}
	})
	t.Run("a code expires 30 minutes after it was issued", func(t *testing.T) {
		c := code()
		env.Clock.Set(time.Date(2021, 3, 1, 9, 30, 0, 0, time.UTC))
		defer env.Clock.Set(time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC))
		fails(t, env, receiver, completeTransfer, map[string]any{"code": c}, "NOT_FOUND")
	})
	t.Run("a new start replaces the earlier code", func(t *testing.T) {
		first := code()
		code()
		fails(t, env, receiver, completeTransfer, map[string]any{"code": first}, "NOT_FOUND")
	})
	t.Run("the receiving account's cap is LIMIT_EXCEEDED and the code stays usable", func(t *testing.T) {
		full := apitest.Learner("full")
		create(t, env, full, "Full One", "full1@example.com")
		create(t, env, full, "Full Two", "full2@example.com")
		c := code()
		e := fails(t, env, full, completeTransfer, map[string]any{"code": c}, "LIMIT_EXCEEDED")
		if e.Extensions["resource"] != "certificationProfiles" {
			t.Fatalf("got extensions %v, want resource certificationProfiles", e.Extensions)
		}
		var out completedOut
		env.MustDo(receiver, completeTransfer, map[string]any{"code": c}, &out)
	})
	t.Run("the receiver now owning two active profiles must merge before connecting", func(t *testing.T) {
		other := apitest.Learner("two-profiles")
		mine := create(t, env, other, "Two Profiles", "two@example.com")
		moved := create(t, env, owner, "Owner Again", "owner2@example.com")
		tr := start(t, env, owner, moved.ID)
		env.MustDo(other, completeTransfer, map[string]any{"code": tr.Code}, nil)
		fails(t, env, other, linkMutation, map[string]any{"id": mine.ID}, "MULTIPLE_CERTIFICATION_PROFILES")
	})
}

// Two (here eight) receiving accounts complete one code at once: exactly one gets the profile,
// every other gets NOT_FOUND, and exactly one completion is recorded. Repeated, since a race
// that loses only sometimes is still a race.
func TestConcurrentCompletionsOfOneCodeOneWins(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for round := range 5 {
		owner := apitest.Learner(fmt.Sprintf("race-owner-%d", round))
		p := create(t, env, owner, "Race Owner", fmt.Sprintf("race%d@example.com", round))
		link(t, env, owner, p.ID)
		tr := start(t, env, owner, p.ID)
		const n = 8
		codes := make([]string, n)
		winners := make([]string, n)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range n {
			who := apitest.Learner(fmt.Sprintf("race-%d-%d", round, i))
			env.MustDo(who, `{ viewer { account { id } } }`, nil, nil) // the account exists before the race
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				r := env.Do(who, completeTransfer, map[string]any{"code": tr.Code})
				if len(r.Errors) > 0 {
					codes[i] = r.Errors[0].Code()
					return
				}
				codes[i], winners[i] = "OK", who.Subject
			}()
		}
		close(gate)
		wg.Wait()
		ok, notFound := 0, 0
		var winner string
		for i, c := range codes {
			switch c {
			case "OK":
				ok++
				winner = winners[i]
			case "NOT_FOUND":
				notFound++
			default:
				t.Fatalf("round %d: got code %s, want OK or NOT_FOUND", round, c)
			}
		}
		if ok != 1 || notFound != n-1 {
			t.Fatalf("round %d: got %d successes and %d NOT_FOUND, want 1 and %d", round, ok, notFound, n-1)
		}
		acc, _ := accountOf(t, env, winner)
		if n := count(t, env, `SELECT count(*) FROM certification_profiles WHERE mcid = $1 AND account_id = $2`, p.MCID, acc); n != 1 {
			t.Fatalf("round %d: the profile is not the winner's account", round)
		}
		if n := count(t, env, `SELECT count(*) FROM audit_events e JOIN audit_event_profiles ep ON ep.event_id = e.id
WHERE ep.profile_id = $1 AND e.action = 'profile.transfer.complete'`, profileUUID(t, env, p.MCID)); n != 1 {
			t.Fatalf("round %d: got %d completion events, want 1", round, n)
		}
	}
}
