package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/webhook"
)

// allEvents subscribes to every event type.
var allEvents = []string{"CERTIFICATION_EARNED", "CERTIFICATION_RENEWED", "RENEWAL_WINDOW_OPENED",
	"CERTIFICATION_EXPIRED", "PROFILE_MERGED", "PROFILE_TRANSFERRED"}

type payload struct {
	Type string
	Data map[string]any
}

func payloads(t *testing.T, r *receiver) []payload {
	t.Helper()
	var out []payload
	for _, d := range r.deliveries() {
		var p payload
		if err := json.Unmarshal(d.Body, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// A support merge and a profile transfer are events, with the profiles' ids and MCIDs.
func TestMergeAndTransferAreEvents(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	rec := newReceiver(t)
	createEndpointFor(t, env, rec.URL, "PROFILE_MERGED", "PROFILE_TRANSFERRED")
	survID, survMCID := newProfileID(t, env, "mia")
	dupID, dupMCID := newProfileID(t, env, "mia-again")
	env.MustDo(apitest.Support("agent"), `mutation($in: MergeCertificationProfilesInput!) {
  mergeCertificationProfiles(input: $in) { survivor { id } } }`, map[string]any{"in": map[string]any{
		"survivorId": survID, "duplicateId": dupID, "reason": "same person", "idempotencyKey": "k1"}}, nil)
	var st struct {
		StartCertificationProfileTransfer struct{ Transfer struct{ Code string } }
	}
	env.MustDo(apitest.Learner("mia"), `mutation($id: ID!) { startCertificationProfileTransfer(input: {certificationProfileId: $id}) {
  transfer { code } } }`, map[string]any{"id": survID}, &st)
	env.MustDo(apitest.Learner("mia-new"), `mutation($code: String!) { completeCertificationProfileTransfer(input: {code: $code}) {
  certificationProfile { id } } }`, map[string]any{"code": st.StartCertificationProfileTransfer.Transfer.Code}, nil)
	send(t, sender(t, env))
	got := payloads(t, rec)
	if len(got) != 2 {
		t.Fatalf("got %d deliveries, want 2 (merged, transferred)", len(got))
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Type < got[j].Type })
	m, tr := got[0], got[1]
	if m.Type != "PROFILE_MERGED" || m.Data["survivorProfileId"] != survID || m.Data["survivorMcid"] != survMCID ||
		m.Data["duplicateProfileId"] != dupID || m.Data["duplicateMcid"] != dupMCID {
		t.Errorf("got %+v, want PROFILE_MERGED of %s into %s", m, dupMCID, survMCID)
	}
	if tr.Type != "PROFILE_TRANSFERRED" || tr.Data["certificationProfileId"] != survID || tr.Data["mcid"] != survMCID || len(tr.Data) != 2 {
		t.Errorf("got %+v, want PROFILE_TRANSFERRED of %s (ids and MCID only)", tr, survMCID)
	}
}

// No change without its event: when writing the event fails, recordExamResult changes
// nothing. No event without its change: an event written in a transaction that then fails is
// gone with it.
func TestEventAndChangeCommitTogether(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	rec := newReceiver(t)
	createEndpointFor(t, env, rec.URL, allEvents...)
	mcid := newProfile(t, env, "oda")
	env.DB.MustExec(`CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'no events today'; END $$`)
	env.DB.MustExec(`CREATE TRIGGER refuse_event BEFORE INSERT ON webhook_events FOR EACH ROW EXECUTE FUNCTION refuse_event()`)
	env.MustFail(apitest.ExamDelivery(), `mutation($in: RecordExamResultInput!) { recordExamResult(input: $in) { examResult { id } } }`,
		map[string]any{"in": map[string]any{"mcid": mcid, "examCode": "AZ-103", "passed": true, "takenAt": "2020-06-15T10:00:00Z",
			"externalId": "refused"}}, "INTERNAL")
	var results, earned int
	if err := env.DB.Get(&results, `SELECT count(*) FROM exam_results`); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Get(&earned, `SELECT count(*) FROM earned_certifications`); err != nil {
		t.Fatal(err)
	}
	if results != 0 || earned != 0 {
		t.Fatalf("the event failed, yet %d exam results and %d earned certifications were stored; want none", results, earned)
	}
	env.DB.MustExec(`DROP TRIGGER refuse_event ON webhook_events`)

	earnedID := earnAZ103(t, env, mcid)
	id := mustNodeUUID(t, earnedID)
	boom := errors.New("the change fails after its event")
	err := env.Server.Store.InTx(context.Background(), func(tx *postgres.Store) error {
		if err := tx.EmitWebhook(context.Background(), webhook.Certification(webhook.CertificationRenewed, id, env.Clock.Now())); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the change's error", err)
	}
	var events, deliveries int
	if err := env.DB.Get(&events, `SELECT count(*) FROM webhook_events WHERE type = 'CERTIFICATION_RENEWED'`); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Get(&deliveries, `SELECT count(*) FROM webhook_deliveries`); err != nil {
		t.Fatal(err)
	}
	if events != 0 || deliveries != 1 {
		t.Fatalf("got %d CERTIFICATION_RENEWED events and %d deliveries, want 0 and 1 (the earned event's)", events, deliveries)
	}
}

// mustNodeUUID decodes an opaque Node id (base64url of "Kind:uuid").
func mustNodeUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	raw, err := decodeNodeID(s)
	if err == nil {
		id, err = uuid.Parse(raw)
	}
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return id
}

// Two schedulers (the reminder pass that opens renewal windows and the expiry pass) and two
// senders running at once, on the real database, deliver each event exactly once to each
// endpoint.
func TestConcurrentSchedulersAndSendersDeliverEachEventOnce(t *testing.T) {
	t.Parallel()
	env := apitest.New(t) // 2021-03-01T09:00Z
	a, b := newReceiver(t), newReceiver(t)
	createEndpointFor(t, env, a.URL, allEvents...)
	createEndpointFor(t, env, b.URL, allEvents...)
	const perKind = 4
	for i := 0; i < 2*perKind; i++ {
		mcid := newProfile(t, env, "p"+string(rune('a'+i)))
		// Half expire in June (their window is open), half expired two days ago.
		earnedOn, expiresOn := "2020-06-15", "2021-06-15"
		if i%2 == 1 {
			earnedOn, expiresOn = "2020-02-27", "2021-02-27"
		}
		env.DB.MustExec(`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, $2, $3, $4 FROM certification_profiles p, certifications c
WHERE p.mcid = $1 AND c.code = 'azure-administrator-associate'`, mcid, earnedOn, expiresOn, env.Clock.Now())
	}
	s1, s2 := sender(t, env), sender(t, env)
	reminders := postgres.Notify{Store: env.Server.Store}
	ctx := context.Background()
	now := env.Clock.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, s := range []*webhook.Sender{s1, s2} {
		wg.Add(3)
		go func() {
			defer wg.Done()
			_, err := reminders.Schedule(ctx, now, date.Of(now), notify.DefaultPlan())
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.Expire(ctx)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if _, err := s.Send(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// What was written after the senders' last look goes out now, from both again.
	var drain sync.WaitGroup
	for _, s := range []*webhook.Sender{s1, s2} {
		drain.Add(1)
		go func() {
			defer drain.Done()
			if _, err := s.Send(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	drain.Wait()
	for name, r := range map[string]*receiver{"a": a, "b": b} {
		seen := map[string]int{}
		kinds := map[string]int{}
		for _, d := range r.deliveries() {
			seen[d.ID]++
		}
		for _, p := range payloads(t, r) {
			kinds[p.Type]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("receiver %s got event %s %d times, want once", name, id, n)
			}
		}
		if len(seen) != 2*perKind || kinds["RENEWAL_WINDOW_OPENED"] != perKind || kinds["CERTIFICATION_EXPIRED"] != perKind {
			t.Errorf("receiver %s got %d events %v, want %d window-opened and %d expired", name, len(seen), kinds, perKind, perKind)
		}
	}
	// The passes are insert-once: running them again (a day later, too) writes nothing new.
	env.Clock.Advance(24 * time.Hour)
	if n, err := s1.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("expiry pass again: got %d, %v; want 0", n, err)
	}
}

func decodeNodeID(s string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	_, id, _ := strings.Cut(string(raw), ":")
	return id, nil
}

// The expiry pass is daily: RunOnce runs it on the first pass of each UTC day only.
func TestRunOnceRunsTheExpiryPassOnceADay(t *testing.T) {
	t.Parallel()
	env := apitest.New(t) // 2021-03-01T09:00Z
	mcid := newProfile(t, env, "daily")
	insert := func(expiresOn string) {
		env.DB.MustExec(`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, '2020-01-01', $2, $3 FROM certification_profiles p, certifications c
WHERE p.mcid = $1 AND c.code = 'azure-administrator-associate'`, mcid, expiresOn, env.Clock.Now())
	}
	insert("2021-02-28")
	s := sender(t, env)
	ctx := context.Background()
	if res, err := s.RunOnce(ctx); err != nil || res.Expired != 1 {
		t.Fatalf("first pass: got %+v, %v; want 1 expired", res, err)
	}
	insert("2021-03-01") // expires today: found by the next day's pass, not by today's later ones
	env.Clock.Advance(time.Hour)
	if res, err := s.RunOnce(ctx); err != nil || res.Expired != 0 {
		t.Fatalf("same day: got %+v, %v; want no expiry pass", res, err)
	}
	env.Clock.Advance(24 * time.Hour)
	if res, err := s.RunOnce(ctx); err != nil || res.Expired != 1 {
		t.Fatalf("next day: got %+v, %v; want 1 expired", res, err)
	}
}
