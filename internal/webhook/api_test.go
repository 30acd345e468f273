package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
	"github.com/recert/recert/internal/webhook"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// delivery is one request a test receiver got.
type delivery struct {
	ID, Timestamp string
	Signatures    []string
	Body          []byte
}

// receiver is an httptest endpoint that records every delivery and answers with the next
// status of its script (then 200).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	script []int
	// onFirst, when set, runs once, in the first request, after it was recorded and before
	// it is answered.
	onFirst func()
	hooked  atomic.Bool
}

func newReceiver(t *testing.T, script ...int) *receiver {
	t.Helper()
	r := &receiver{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
			Signatures: strings.Fields(req.Header.Get("webhook-signature")), Body: body})
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		if r.onFirst != nil && r.hooked.CompareAndSwap(false, true) {
			r.onFirst()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// verify checks a delivery's signatures as a Standard Webhooks receiver does, written here
// independently of the server's code: base64 of HMAC-SHA256 keyed with the secret's decoded
// bytes over "id.timestamp.body"; it reports which of the secrets signed.
func verify(t *testing.T, d delivery, secrets ...string) []bool {
	t.Helper()
	ok := make([]bool, len(secrets))
	for i, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) < 24 {
			t.Fatalf("secret %q: want whsec_ and base64 of at least 24 bytes (%v)", s, err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(d.ID + "." + d.Timestamp + "." + string(d.Body)))
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		for _, sig := range d.Signatures {
			v, found := strings.CutPrefix(sig, "v1,")
			if found && hmac.Equal([]byte(v), []byte(want)) {
				ok[i] = true
			}
		}
	}
	return ok
}

func sender(t *testing.T, env *apitest.Env) *webhook.Sender {
	t.Helper()
	s, err := webhook.NewSender(postgres.Webhook{Store: env.Server.Store}, env.Clock,
		webhook.SenderConfig{Client: webhook.NewClient(false)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func send(t *testing.T, s *webhook.Sender) webhook.PassResult {
	t.Helper()
	res, err := s.Send(context.Background())
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return res
}

const createEndpoint = `mutation($url: String!, $events: [WebhookEventType!]!) {
  createWebhookEndpoint(input: {url: $url, events: $events, description: "test"}) {
    webhookEndpoint { id url events createdAt } secret } }`

func createEndpointFor(t *testing.T, env *apitest.Env, url string, events ...string) (id, secret string) {
	t.Helper()
	var out struct {
		CreateWebhookEndpoint struct {
			WebhookEndpoint struct{ ID, URL string }
			Secret          string
		}
	}
	env.MustDo(apitest.Admin("root"), createEndpoint, map[string]any{"url": url, "events": events}, &out)
	return out.CreateWebhookEndpoint.WebhookEndpoint.ID, out.CreateWebhookEndpoint.Secret
}

const endpointsQuery = `{ webhookEndpoints(first: 10) { nodes { id url events disabledAt disabledReason
  deliveries(first: 10) { nodes { id event messageId status attempts lastResponseStatus nextAttemptAt deliveredAt replayOf } } } } }`

type deliveryOut struct {
	ID, Event, MessageID, Status string
	Attempts                     int
	LastResponseStatus           *int
	NextAttemptAt, DeliveredAt   *string
	ReplayOf                     *string
}

type endpointOut struct {
	ID, URL                    string
	Events                     []string
	DisabledAt, DisabledReason *string
	Deliveries                 struct{ Nodes []deliveryOut }
}

func endpoints(t *testing.T, env *apitest.Env) map[string]endpointOut {
	t.Helper()
	var out struct{ WebhookEndpoints struct{ Nodes []endpointOut } }
	env.MustDo(apitest.Admin("root"), endpointsQuery, nil, &out)
	m := map[string]endpointOut{}
	for _, e := range out.WebhookEndpoints.Nodes {
		m[e.ID] = e
	}
	return m
}

func newProfile(t *testing.T, env *apitest.Env, sub string) (mcid string) {
	t.Helper()
	_, mcid = newProfileID(t, env, sub)
	return mcid
}

// newProfileID creates a certification profile for the personal account sub.
func newProfileID(t *testing.T, env *apitest.Env, sub string) (id, mcid string) {
	t.Helper()
	var out struct {
		CreateCertificationProfile struct{ CertificationProfile struct{ ID, MCID string } }
	}
	env.MustDo(apitest.Learner(sub), `mutation($n: String!, $e: String!) {
  createCertificationProfile(input: {legalName: $n, email: $e}) { certificationProfile { id mcid } } }`,
		map[string]any{"n": "Learner " + sub, "e": sub + "@example.com"}, &out)
	p := out.CreateCertificationProfile.CertificationProfile
	return p.ID, p.MCID
}

// earnAZ103 records a pass of AZ-103 on 2020-06-15: azure-administrator-associate, expiring
// 2021-06-15. It returns the earned certification's id.
func earnAZ103(t *testing.T, env *apitest.Env, mcid string) string {
	t.Helper()
	var out struct {
		RecordExamResult struct{ EarnedCertifications []struct{ ID string } }
	}
	env.MustDo(apitest.ExamDelivery(), `mutation($in: RecordExamResultInput!) { recordExamResult(input: $in) {
  earnedCertifications { id } } }`, map[string]any{"in": map[string]any{
		"mcid": mcid, "examCode": "AZ-103", "passed": true, "score": 812, "takenAt": "2020-06-15T10:00:00Z",
		"externalId": "AZ-103/" + mcid}}, &out)
	if len(out.RecordExamResult.EarnedCertifications) != 1 {
		t.Fatalf("got %d earned certifications, want 1", len(out.RecordExamResult.EarnedCertifications))
	}
	return out.RecordExamResult.EarnedCertifications[0].ID
}

// The acceptance of issue 16 part 3: a receiver verifies every delivery's signature, sees a
// retry after a 500, a replay, both signatures during a rotation; an endpoint not subscribed to
// the event gets nothing; the payload carries ids, MCID, code and dates, never the e-mail
// address or the score.
func TestSignedDeliveriesRetriesReplayAndRotation(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	subscribed, other := newReceiver(t, http.StatusInternalServerError), newReceiver(t)
	epID, secret := createEndpointFor(t, env, subscribed.URL+"/hooks", "CERTIFICATION_EARNED", "PROFILE_TRANSFERRED")
	createEndpointFor(t, env, other.URL, "PROFILE_MERGED")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("got secret %q, want whsec_...", secret)
	}
	mcid := newProfile(t, env, "hana")
	earnedID := earnAZ103(t, env, mcid)
	s := sender(t, env)

	if res := send(t, s); res.Failed != 1 || res.Delivered != 0 {
		t.Fatalf("first pass: got %+v, want 1 failed (the receiver answers 500)", res)
	}
	d := endpoints(t, env)[epID].Deliveries.Nodes
	if len(d) != 1 || d[0].Status != "PENDING" || d[0].Attempts != 1 || d[0].LastResponseStatus == nil ||
		*d[0].LastResponseStatus != 500 || d[0].NextAttemptAt == nil || d[0].Event != "CERTIFICATION_EARNED" {
		t.Fatalf("after a 500: got %+v, want one PENDING delivery, 1 attempt, status 500, a next attempt", d)
	}
	if res := send(t, s); res != (webhook.PassResult{}) {
		t.Fatalf("before the backoff: got %+v, want nothing sent", res)
	}
	env.Clock.Advance(10 * time.Minute)
	if res := send(t, s); res.Delivered != 1 {
		t.Fatalf("after the backoff: got %+v, want 1 delivered", res)
	}
	got := subscribed.deliveries()
	if len(got) != 2 || got[0].ID != got[1].ID || got[0].ID != d[0].MessageID {
		t.Fatalf("got %d requests with ids %v, want the first and its retry with webhook-id %s", len(got), got, d[0].MessageID)
	}
	for _, g := range got {
		if ok := verify(t, g, secret); !ok[0] {
			t.Fatalf("delivery %s: the signature does not verify with the endpoint's secret", g.ID)
		}
	}
	if n := len(other.deliveries()); n != 0 {
		t.Fatalf("the endpoint subscribed to PROFILE_MERGED only got %d deliveries, want 0", n)
	}

	// The payload: {type, timestamp, data} with ids, MCID, code and dates only.
	var p struct {
		Type      string
		Timestamp time.Time
		Data      map[string]any
	}
	if err := json.Unmarshal(got[1].Body, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"earnedCertificationId": earnedID, "mcid": mcid, "certificationCode": "azure-administrator-associate",
		"earnedOn": "2020-06-15", "expiresOn": "2021-06-15"}
	for k, v := range want {
		if p.Data[k] != v {
			t.Errorf("data.%s: got %v, want %v", k, p.Data[k], v)
		}
	}
	if p.Type != "CERTIFICATION_EARNED" || !p.Timestamp.Equal(apitest.Start) || p.Data["certificationProfileId"] == nil {
		t.Errorf("got type %s, timestamp %s, data %v; want CERTIFICATION_EARNED at %s with the profile id", p.Type, p.Timestamp, p.Data, apitest.Start)
	}
	body := strings.ToLower(string(got[1].Body))
	for _, never := range []string{"hana@example.com", "email", "score", "812", "attempt"} {
		if strings.Contains(body, never) {
			t.Errorf("the payload %s holds %q", body, never)
		}
	}

	// A replay: a new delivery of the same event, same webhook-id.
	var rep struct {
		ReplayWebhookDelivery struct{ WebhookDelivery deliveryOut }
	}
	env.MustDo(apitest.Admin("root"), `mutation($id: ID!) { replayWebhookDelivery(input: {deliveryId: $id}) {
  webhookDelivery { id status replayOf messageId } } }`, map[string]any{"id": d[0].ID}, &rep)
	if r := rep.ReplayWebhookDelivery.WebhookDelivery; r.Status != "PENDING" || r.ReplayOf == nil || *r.ReplayOf != d[0].ID {
		t.Fatalf("got replay %+v, want PENDING, replaying %s", r, d[0].ID)
	}
	send(t, s)
	if got := subscribed.deliveries(); len(got) != 3 || got[2].ID != got[0].ID || !verify(t, got[2], secret)[0] {
		t.Fatalf("after the replay: got %d requests, want 3, the last with the same webhook-id, signed", len(got))
	}

	// A rotation: both secrets sign for 24 hours, then only the new one.
	var rot struct {
		RotateWebhookSecret struct{ Secret string }
	}
	env.MustDo(apitest.Admin("root"), `mutation($id: ID!) { rotateWebhookSecret(input: {webhookEndpointId: $id}) {
  webhookEndpoint { id previousSecretExpiresAt } secret } }`, map[string]any{"id": epID}, &rot)
	fresh := rot.RotateWebhookSecret.Secret
	replayAndSend := func() delivery {
		t.Helper()
		env.MustDo(apitest.Admin("root"), `mutation($id: ID!) { replayWebhookDelivery(input: {deliveryId: $id}) {
  webhookDelivery { id } } }`, map[string]any{"id": d[0].ID}, nil)
		send(t, s)
		all := subscribed.deliveries()
		return all[len(all)-1]
	}
	last := replayAndSend()
	if ok := verify(t, last, fresh, secret); len(last.Signatures) != 2 || !ok[0] || !ok[1] {
		t.Fatalf("during the rotation: got signatures %v (verified %v), want two, by the new and the old secret", last.Signatures, ok)
	}
	env.Clock.Advance(24*time.Hour + time.Second)
	last = replayAndSend()
	if ok := verify(t, last, fresh, secret); len(last.Signatures) != 1 || !ok[0] || ok[1] {
		t.Fatalf("after 24 hours: got signatures %v (verified %v), want the new secret's only", last.Signatures, ok)
	}
	if ts, _ := strconv.ParseInt(last.Timestamp, 10, 64); ts != env.Clock.Now().Unix() {
		t.Fatalf("webhook-timestamp: got %s, want the send time %d", last.Timestamp, env.Clock.Now().Unix())
	}
}

// Admins only: a learner, support or exam delivery cannot list or create endpoints.
func TestWebhooksAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	for _, who := range []apitest.Identity{apitest.Learner("x"), apitest.Support("s"), apitest.ExamDelivery()} {
		env.MustFail(who, `{ webhookEndpoints { nodes { id } } }`, nil, "FORBIDDEN")
		env.MustFail(who, createEndpoint, map[string]any{"url": "https://hooks.example/x", "events": []string{"PROFILE_MERGED"}}, "FORBIDDEN")
	}
	env.MustFail(apitest.Admin("root"), createEndpoint, map[string]any{"url": "http://hooks.example/x", "events": []string{"PROFILE_MERGED"}}, "BAD_USER_INPUT")
	env.MustFail(apitest.Admin("root"), createEndpoint, map[string]any{"url": "https://hooks.example/x", "events": []string{}}, "BAD_USER_INPUT")
	env.MustFail(apitest.Admin("root"), `mutation { deleteWebhookEndpoint(input: {webhookEndpointId: "0b0e3b38-7a4c-4e6c-9d7e-6f1b7f3c1d2a"}) {
  webhookEndpoint { id } } }`, nil, "NOT_FOUND")
}

// Deliveries that fail for 3 days are given up and the endpoint is disabled; admins see why.
// The clock moves; nothing sleeps.
func TestAnEndpointFailingForThreeDaysIsDisabled(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	down := newReceiver(t, fill(100, http.StatusServiceUnavailable)...)
	epID, _ := createEndpointFor(t, env, down.URL, "CERTIFICATION_EARNED")
	earnAZ103(t, env, newProfile(t, env, "ren"))
	s := sender(t, env)
	for i := 0; i < 100 && endpoints(t, env)[epID].DisabledAt == nil; i++ {
		send(t, s)
		env.Clock.Advance(2 * time.Hour)
	}
	ep := endpoints(t, env)[epID]
	if ep.DisabledAt == nil || ep.DisabledReason == nil || !strings.Contains(*ep.DisabledReason, "503") {
		t.Fatalf("got disabledAt %v, reason %v; want disabled with the last failure (HTTP 503) as the reason", ep.DisabledAt, ep.DisabledReason)
	}
	at, _ := time.Parse(time.RFC3339, *ep.DisabledAt)
	if age := at.Sub(apitest.Start); age < webhook.MaxRetryAge || age > webhook.MaxRetryAge+2*time.Hour {
		t.Fatalf("disabled %s after the event, want about %s", age, webhook.MaxRetryAge)
	}
	d := ep.Deliveries.Nodes[0]
	if d.Status != "FAILED" || d.NextAttemptAt != nil || d.Attempts < 10 {
		t.Fatalf("got delivery %+v, want FAILED with no next attempt after many retries", d)
	}
	n := len(down.deliveries())
	earnAZ103(t, env, newProfile(t, env, "ren2"))
	env.Clock.Advance(time.Hour)
	send(t, s)
	if got := len(down.deliveries()); got != n {
		t.Fatalf("a disabled endpoint got %d more requests, want none", got-n)
	}
}

func fill(n, v int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}
