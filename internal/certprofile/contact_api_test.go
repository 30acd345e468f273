package certprofile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
)

const updateProfile = `mutation($id: ID!, $lang: String) { updateCertificationProfile(input: {certificationProfileId: $id,
  preferredLanguage: $lang}) { certificationProfile { preferredLanguage } } }`

const requestEmail = `mutation($id: ID!, $email: String!) { requestContactEmailChange(input: {certificationProfileId: $id,
  email: $email}) { pendingEmail expiresAt certificationProfile { email } } }`

const confirmEmail = `mutation($id: ID!, $code: String!) { confirmContactEmailChange(input: {certificationProfileId: $id,
  code: $code}) { certificationProfile { email alternateEmails } } }`

const correctName = `mutation($id: ID!, $name: String!, $reason: String!, $ticket: String) { correctLegalName(input: {
  certificationProfileId: $id, legalName: $name, reason: $reason, ticket: $ticket}) { certificationProfile { legalName } } }`

// mailbox records what the outbox sends.
type mailbox struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (m *mailbox) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

// deliver runs one outbox pass with a fresh mailbox and returns what it sent.
func deliver(t *testing.T, env *apitest.Env) []notify.Message {
	t.Helper()
	mb := &mailbox{}
	o, err := notify.NewOutbox(postgres.Notify{Store: env.Server.Store}, env.Clock, notify.OutboxConfig{
		Mailer: mb, PublicURL: "https://recert.example", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Send(context.Background()); err != nil {
		t.Fatal(err)
	}
	return mb.sent
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// emailedCode requests a change to email and returns the code the outbox mailed there.
func emailedCode(t *testing.T, env *apitest.Env, who apitest.Identity, profileID, email string) string {
	t.Helper()
	env.MustDo(who, requestEmail, map[string]any{"id": profileID, "email": email}, nil)
	msgs := deliver(t, env)
	if len(msgs) != 1 || msgs[0].To != email {
		t.Fatalf("got %d emails %+v, want one to %s", len(msgs), msgs, email)
	}
	code := sixDigits.FindString(msgs[0].Text)
	if code == "" || sixDigits.FindString(msgs[0].Subject) != code {
		t.Fatalf("got email %q / %q, want a 6-digit code in subject and body", msgs[0].Subject, msgs[0].Text)
	}
	return code
}

// wrongCode is a 6-digit code that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestUpdatePreferredLanguage(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	owner := apitest.Learner("lang")
	p := create(t, env, owner, "Lang Example", "lang@example.com")
	set := func(lang any) *string {
		t.Helper()
		var out struct {
			UpdateCertificationProfile struct {
				CertificationProfile struct{ PreferredLanguage *string }
			}
		}
		env.MustDo(owner, updateProfile, map[string]any{"id": p.ID, "lang": lang}, &out)
		return out.UpdateCertificationProfile.CertificationProfile.PreferredLanguage
	}
	if got := set("ja"); got == nil || *got != "ja" {
		t.Fatalf("got %v, want ja", got)
	}
	if got := set(nil); got == nil || *got != "ja" {
		t.Fatalf("null: got %v, want ja unchanged", got)
	}
	if got := set("EN"); got == nil || *got != "en" {
		t.Fatalf("got %v, want en", got)
	}
	if got := set(""); got != nil {
		t.Fatalf("empty string: got %v, want cleared", *got)
	}
	e := fails(t, env, owner, updateProfile, map[string]any{"id": p.ID, "lang": "fr"}, "BAD_USER_INPUT")
	if got, _ := json.Marshal(e.Extensions["availableLanguages"]); string(got) != `["en","ja"]` {
		t.Fatalf("got availableLanguages %s, want [\"en\",\"ja\"]", got)
	}
	fails(t, env, apitest.Support("agent"), updateProfile, map[string]any{"id": p.ID, "lang": "ja"}, "FORBIDDEN")
	fails(t, env, apitest.Learner("other"), updateProfile, map[string]any{"id": p.ID, "lang": "ja"}, "NOT_FOUND")
}

// The whole change: the code goes to the new address through the outbox (in the profile's
// language), a wrong code counts, the right one makes the new address the contact email,
// keeps the old one as an alternate, moves queued reminders to the new address, and is used up.
func TestContactEmailChange(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	env.Clock.Set(time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC))
	owner := apitest.Learner("mover")
	p := create(t, env, owner, "Mover Example", "old@example.com")
	env.MustDo(owner, updateProfile, map[string]any{"id": p.ID, "lang": "ja"}, nil)
	pid := profileUUID(t, env, p.MCID)
	if _, err := env.DB.Exec(`
WITH e AS (INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
           SELECT $1, id, '2020-09-01', '2021-09-01', $2 FROM certifications WHERE code = 'azure-administrator-associate'
           RETURNING id)
INSERT INTO notifications (earned_certification_id, cycle_expires_on, sequence, kind, email, language, scheduled_for, created_at, next_attempt_at)
SELECT e.id, '2021-09-01', 1, 'RENEWAL_WINDOW_OPEN', 'old@example.com', 'ja', '2021-03-02', $2, '2021-03-02' FROM e`,
		pid, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}

	var req struct {
		RequestContactEmailChange struct {
			PendingEmail         string
			ExpiresAt            time.Time
			CertificationProfile struct{ Email string }
		}
	}
	env.MustDo(owner, requestEmail, map[string]any{"id": p.ID, "email": "new@example.com"}, &req)
	r := req.RequestContactEmailChange
	if r.PendingEmail != "new@example.com" || r.CertificationProfile.Email != "old@example.com" ||
		!r.ExpiresAt.Equal(time.Date(2021, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %+v, want new@example.com pending until 10:00, the contact email unchanged", r)
	}
	msgs := deliver(t, env)
	if len(msgs) != 1 || msgs[0].To != "new@example.com" || msgs[0].Language != "ja" {
		t.Fatalf("got %+v, want one Japanese email to new@example.com", msgs)
	}
	code := sixDigits.FindString(msgs[0].Text)
	if n := count(t, env, `SELECT count(*) FROM verification_emails WHERE code IS NOT NULL`); n != 0 {
		t.Fatalf("got %d stored codes after delivery, want none", n)
	}

	e := fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": wrongCode(code)}, "BAD_USER_INPUT")
	if e.Extensions["attemptsLeft"] != float64(4) {
		t.Fatalf("got extensions %v, want attemptsLeft 4", e.Extensions)
	}
	var out struct {
		ConfirmContactEmailChange struct {
			CertificationProfile struct {
				Email           string
				AlternateEmails []string
			}
		}
	}
	env.MustDo(owner, confirmEmail, map[string]any{"id": p.ID, "code": code}, &out)
	got := out.ConfirmContactEmailChange.CertificationProfile
	if got.Email != "new@example.com" || !slices.Equal(got.AlternateEmails, []string{"old@example.com"}) {
		t.Fatalf("got %+v, want new@example.com with old@example.com as an alternate", got)
	}
	if n := count(t, env, `SELECT count(*) FROM notifications WHERE email = 'new@example.com' AND sent_at IS NULL`); n != 1 {
		t.Fatalf("got %d queued reminders to the new address, want 1", n)
	}
	fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": code}, "NOT_FOUND")
	want := []string{"profile.email_change.confirm", "profile.email_change.request"}
	if got := auditActions(t, env, p.MCID); !slices.Equal(got, want) {
		t.Fatalf("got audit actions %v, want %v", got, want)
	}
}

func TestContactEmailCodeRules(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	nine := time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)
	env.Clock.Set(nine)
	owner := apitest.Learner("rules")
	p := create(t, env, owner, "Rules Example", "rules@example.com")

	t.Run("input and permissions", func(t *testing.T) {
		fails(t, env, owner, requestEmail, map[string]any{"id": p.ID, "email": "not an address"}, "BAD_USER_INPUT")
		fails(t, env, owner, requestEmail, map[string]any{"id": p.ID, "email": "RULES@example.com"}, "BAD_USER_INPUT")
		fails(t, env, apitest.Support("agent"), requestEmail, map[string]any{"id": p.ID, "email": "x@example.com"}, "FORBIDDEN")
		fails(t, env, apitest.Learner("stranger"), requestEmail, map[string]any{"id": p.ID, "email": "x@example.com"}, "NOT_FOUND")
		fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": "123456"}, "NOT_FOUND") // nothing requested
	})
	t.Run("a code expires after one hour", func(t *testing.T) {
		code := emailedCode(t, env, owner, p.ID, "late@example.com")
		env.Clock.Set(nine.Add(time.Hour))
		defer env.Clock.Set(nine)
		fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": code}, "NOT_FOUND")
	})
	t.Run("an expired code is not mailed", func(t *testing.T) {
		env.MustDo(owner, requestEmail, map[string]any{"id": p.ID, "email": "slow@example.com"}, nil)
		env.Clock.Set(nine.Add(time.Hour))
		defer env.Clock.Set(nine)
		if msgs := deliver(t, env); len(msgs) != 0 {
			t.Fatalf("got %d emails, want none for an expired code", len(msgs))
		}
	})
	t.Run("five wrong codes lock the request, even for the right code", func(t *testing.T) {
		code := emailedCode(t, env, owner, p.ID, "locked@example.com")
		for i := range 5 {
			e := fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": wrongCode(code)}, "BAD_USER_INPUT")
			if e.Extensions["attemptsLeft"] != float64(4-i) {
				t.Fatalf("guess %d: got %v, want attemptsLeft %d", i+1, e.Extensions, 4-i)
			}
		}
		e := fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": code}, "BAD_USER_INPUT")
		if e.Extensions["attemptsLeft"] != float64(0) {
			t.Fatalf("got %v, want the right code refused with attemptsLeft 0", e.Extensions)
		}
	})
	t.Run("a new request replaces the earlier code", func(t *testing.T) {
		first := emailedCode(t, env, owner, p.ID, "first@example.com")
		second := emailedCode(t, env, owner, p.ID, "second@example.com")
		if first != second {
			fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": first}, "BAD_USER_INPUT")
		}
		var out struct {
			ConfirmContactEmailChange struct{ CertificationProfile struct{ Email string } }
		}
		env.MustDo(owner, confirmEmail, map[string]any{"id": p.ID, "code": second}, &out)
		if got := out.ConfirmContactEmailChange.CertificationProfile.Email; got != "second@example.com" {
			t.Fatalf("got %s, want second@example.com", got)
		}
	})
}

// Concurrent confirmations of one right code confirm once (the others find no pending change),
// and concurrent wrong guesses are all counted, and never past the lock.
func TestConcurrentEmailConfirmations(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	env.Clock.Set(time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC))
	owner := apitest.Learner("racer")
	p := create(t, env, owner, "Racer Example", "racer@example.com")
	race := func(n int, code func(i int) string) []string {
		codes := make([]string, n)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				r := env.Do(owner, confirmEmail, map[string]any{"id": p.ID, "code": code(i)})
				codes[i] = "OK"
				if len(r.Errors) > 0 {
					codes[i] = r.Errors[0].Code()
				}
			}()
		}
		close(gate)
		wg.Wait()
		slices.Sort(codes)
		return codes
	}
	for round := range 3 {
		code := emailedCode(t, env, owner, p.ID, fmt.Sprintf("round%d@example.com", round))
		got := race(6, func(int) string { return code })
		want := []string{"NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "OK"}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want one OK and NOT_FOUND for the rest", round, got)
		}
	}
	if n := count(t, env, `SELECT count(*) FROM profile_alternate_emails WHERE profile_id = $1`, profileUUID(t, env, p.MCID)); n != 3 {
		t.Fatalf("got %d alternate emails, want 3 (one per confirmed change)", n)
	}

	code := emailedCode(t, env, owner, p.ID, "guessed@example.com")
	got := race(10, func(int) string { return wrongCode(code) })
	for _, c := range got {
		if c != "BAD_USER_INPUT" {
			t.Fatalf("got %v, want every wrong guess refused", got)
		}
	}
	if n := count(t, env, `SELECT failed_codes FROM contact_email_changes WHERE email = 'guessed@example.com'`); n != 5 {
		t.Fatalf("got %d wrong codes counted, want exactly 5 (the lock)", n)
	}
	fails(t, env, owner, confirmEmail, map[string]any{"id": p.ID, "code": code}, "BAD_USER_INPUT")
}

func TestCorrectLegalName(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	owner := apitest.Learner("named")
	p := create(t, env, owner, "Tarou Yamada", "named@example.com")
	vars := func(name, reason string, ticket any) map[string]any {
		return map[string]any{"id": p.ID, "name": name, "reason": reason, "ticket": ticket}
	}
	fails(t, env, owner, correctName, vars("Taro Yamada", "typo", nil), "FORBIDDEN")
	fails(t, env, apitest.Anonymous, correctName, vars("Taro Yamada", "typo", nil), "UNAUTHENTICATED")
	fails(t, env, apitest.Support("agent"), correctName, vars("Taro Yamada", "  ", nil), "BAD_USER_INPUT")
	fails(t, env, apitest.Support("agent"), correctName, vars("", "typo", nil), "BAD_USER_INPUT")
	fails(t, env, apitest.Support("agent"), correctName, map[string]any{"id": missingProfileID(), "name": "X Y", "reason": "typo"}, "NOT_FOUND")

	var out struct {
		CorrectLegalName struct{ CertificationProfile struct{ LegalName string } }
	}
	env.MustDo(apitest.Support("agent"), correctName, vars("Taro Yamada", "passport shows Taro", "SR-2001"), &out)
	if got := out.CorrectLegalName.CertificationProfile.LegalName; got != "Taro Yamada" {
		t.Fatalf("got %q, want Taro Yamada", got)
	}
	var audit auditOut
	env.MustDo(apitest.Support("agent"), auditQuery, map[string]any{"mcid": p.MCID}, &audit)
	nodes := audit.CertificationProfile.AuditEvents.Nodes
	if len(nodes) != 1 || nodes[0].Action != "profile.legal_name.correct" || nodes[0].Reason == nil ||
		*nodes[0].Reason != "passport shows Taro" || nodes[0].Ticket == nil || *nodes[0].Ticket != "SR-2001" {
		t.Fatalf("got %+v, want one legal-name correction with its reason and ticket", nodes)
	}
	var details map[string]string
	if err := json.Unmarshal([]byte(nodes[0].Details), &details); err != nil || details["from"] != "Tarou Yamada" || details["to"] != "Taro Yamada" {
		t.Fatalf("got details %s, want from Tarou Yamada to Taro Yamada", nodes[0].Details)
	}
}
