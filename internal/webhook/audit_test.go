package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/webhook"
)

type webhookAudit struct {
	ID      uuid.UUID `db:"id"`
	Action  string    `db:"action"`
	Actor   string    `db:"actor"`
	Details string    `db:"details"`
}

// webhookAudits reads the webhook actions' rows of the audit trail, oldest first.
func webhookAudits(t *testing.T, env *apitest.Env) []webhookAudit {
	t.Helper()
	var rows []webhookAudit
	if err := env.DB.Select(&rows, `SELECT id, action, actor, details FROM audit_events
WHERE action LIKE 'webhook.%' ORDER BY occurred_at, id`); err != nil {
		t.Fatal(err)
	}
	return rows
}

// detailsOf decodes an audit event's details.
func detailsOf(t *testing.T, row webhookAudit) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(row.Details), &d); err != nil {
		t.Fatalf("details of %s: %v", row.Action, err)
	}
	return d
}

// brokenAudit is a webhook store whose audit insert fails, inside transactions too.
type brokenAudit struct{ webhook.Store }

func (b brokenAudit) InTx(ctx context.Context, fn func(tx webhook.Store) error) error {
	return b.Store.InTx(ctx, func(tx webhook.Store) error { return fn(brokenAudit{tx}) })
}

var errAuditDown = errors.New("audit trail unavailable")

func (brokenAudit) InsertAudit(context.Context, audit.Event) (audit.Event, error) {
	return audit.Event{}, errAuditDown
}

// pendingDelivery subscribes a new endpoint to CERTIFICATION_EARNED through svc and earns a
// certification, which gives the endpoint one delivery; it returns both.
func pendingDelivery(t *testing.T, env *apitest.Env, svc *webhook.Service, admin *auth.Principal) (webhook.Endpoint, webhook.Delivery) {
	t.Helper()
	ctx := context.Background()
	c, err := svc.Create(ctx, admin, "https://hooks.example/a", []webhook.EventType{"CERTIFICATION_EARNED"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	earnAZ103(t, env, newProfile(t, env, "hana"))
	ds, _, err := svc.Deliveries(ctx, admin, c.Endpoint.ID, nil, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("got deliveries %v (%v), want one", ds, err)
	}
	return c.Endpoint, ds[0]
}

// Domain level: each admin action on webhooks writes one audit event (actor, target, what
// changed, never a secret) in its own transaction; a refused or failed action writes none,
// and when the audit insert fails the action itself is rolled back.
func TestWebhookAdminActionsAreAudited(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	svc := webhook.NewService(postgres.Webhook{Store: env.Server.Store}, env.Clock, false)
	admin := &auth.Principal{Issuer: apitest.Issuer, Subject: "root", Roles: []string{auth.RoleAdmin}}
	actor := apitest.Issuer + "|root"
	ep, d := pendingDelivery(t, env, svc, admin)
	env.Clock.Advance(time.Minute) // the events are read in the order of their instants

	rot, err := svc.Rotate(ctx, admin, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(time.Minute)
	re, err := svc.Replay(ctx, admin, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(time.Minute)
	if _, err := svc.Delete(ctx, admin, ep.ID); err != nil {
		t.Fatal(err)
	}
	rows := webhookAudits(t, env)
	want := []string{webhook.ActionCreate, webhook.ActionRotate, webhook.ActionReplay, webhook.ActionDelete}
	if len(rows) != len(want) {
		t.Fatalf("got %d audit events %+v, want %v", len(rows), rows, want)
	}
	for i, row := range rows {
		if row.Action != want[i] || row.Actor != actor {
			t.Errorf("event %d: got %s by %s, want %s by %s", i, row.Action, row.Actor, want[i], actor)
		}
		if strings.Contains(row.Details, "whsec_") {
			t.Errorf("%s: details carry a secret: %s", row.Action, row.Details)
		}
		if got := detailsOf(t, row)["endpointId"]; got != ep.ID.String() {
			t.Errorf("%s: got endpointId %v, want %s", row.Action, got, ep.ID)
		}
	}
	if d := detailsOf(t, rows[0]); d["url"] != "https://hooks.example/a" {
		t.Errorf("create: got details %v, want the URL", d)
	}
	if d := detailsOf(t, rows[1]); d["previousSecretExpiresAt"] != rot.Endpoint.PreviousSecretExpiresAt.Format(time.RFC3339) {
		t.Errorf("rotate: got details %v, want when the previous secret stops signing", d)
	}
	if got := detailsOf(t, rows[2]); got["replayOf"] != d.ID.String() || got["deliveryId"] != re.ID.String() || got["event"] != "CERTIFICATION_EARNED" {
		t.Errorf("replay: got details %v, want the replayed delivery %s, the new one %s and the event", got, d.ID, re.ID)
	}
	if d := detailsOf(t, rows[3]); d["url"] != "https://hooks.example/a" {
		t.Errorf("delete: got details %v, want the deleted endpoint's URL", d)
	}

	// Refused or failed actions write nothing.
	learner := &auth.Principal{Issuer: apitest.Issuer, Subject: "x", Roles: nil}
	support := &auth.Principal{Issuer: apitest.Issuer, Subject: "s", Roles: []string{auth.RoleSupport}}
	ep2, d2 := pendingDelivery(t, env, svc, admin)
	before := len(webhookAudits(t, env))
	refusals := []struct {
		name string
		code apperr.Code
		do   func() error
	}{
		{"rotate, unknown endpoint", apperr.NotFound, func() error { _, err := svc.Rotate(ctx, admin, uuid.New()); return err }},
		{"delete, unknown endpoint", apperr.NotFound, func() error { _, err := svc.Delete(ctx, admin, uuid.New()); return err }},
		{"replay, unknown delivery", apperr.NotFound, func() error { _, err := svc.Replay(ctx, admin, uuid.New()); return err }},
		{"rotate by support", apperr.Forbidden, func() error { _, err := svc.Rotate(ctx, support, ep2.ID); return err }},
		{"delete by a learner", apperr.Forbidden, func() error { _, err := svc.Delete(ctx, learner, ep2.ID); return err }},
		{"replay signed out", apperr.Unauthenticated, func() error { _, err := svc.Replay(ctx, nil, d2.ID); return err }},
		{"create, bad URL", apperr.BadUserInput, func() error {
			_, err := svc.Create(ctx, admin, "ftp://hooks.example", []webhook.EventType{"CERTIFICATION_EARNED"}, nil, nil)
			return err
		}},
	}
	for _, r := range refusals {
		if err := r.do(); apperr.CodeOf(err) != r.code {
			t.Errorf("%s: got %v, want %s", r.name, err, r.code)
		}
	}
	if n := len(webhookAudits(t, env)) - before; n != 0 {
		t.Fatalf("refused actions wrote %d audit events, want none", n)
	}

	// The event is written in the action's transaction: when it cannot be, nothing changes.
	broken := webhook.NewService(brokenAudit{postgres.Webhook{Store: env.Server.Store}}, env.Clock, false)
	var secretBefore string
	if err := env.DB.Get(&secretBefore, `SELECT secret FROM webhook_endpoints WHERE id = $1`, ep2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := broken.Rotate(ctx, admin, ep2.ID); !errors.Is(err, errAuditDown) {
		t.Fatalf("rotate with the audit trail down: got %v, want it to fail", err)
	}
	if _, err := broken.Replay(ctx, admin, d2.ID); !errors.Is(err, errAuditDown) {
		t.Fatalf("replay with the audit trail down: got %v, want it to fail", err)
	}
	if _, err := broken.Delete(ctx, admin, ep2.ID); !errors.Is(err, errAuditDown) {
		t.Fatalf("delete with the audit trail down: got %v, want it to fail", err)
	}
	if _, err := broken.Create(ctx, admin, "https://hooks.example/b", []webhook.EventType{"PROFILE_MERGED"}, nil, nil); !errors.Is(err, errAuditDown) {
		t.Fatalf("create with the audit trail down: got %v, want it to fail", err)
	}
	var secretAfter string
	var endpoints, deliveries int
	if err := env.DB.Get(&secretAfter, `SELECT secret FROM webhook_endpoints WHERE id = $1`, ep2.ID); err != nil {
		t.Fatalf("the endpoint is gone although its deletion could not be audited: %v", err)
	}
	if err := env.DB.Get(&endpoints, `SELECT count(*) FROM webhook_endpoints`); err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Get(&deliveries, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, ep2.ID); err != nil {
		t.Fatal(err)
	}
	if secretAfter != secretBefore || endpoints != 1 || deliveries != 1 {
		t.Fatalf("unaudited actions took effect: secret changed %v, %d endpoints (want 1), %d deliveries (want 1)",
			secretAfter != secretBefore, endpoints, deliveries)
	}
}

// Through the API: the admin mutations on webhooks leave one audit event each, which support
// reads by node(id) like any audit event; a repeat of a keyed create, a refused and a failed
// mutation leave none.
func TestWebhookMutationsAreAuditedThroughTheAPI(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	admin := apitest.Admin("root")
	const create = `mutation($k: String) { createWebhookEndpoint(input: {url: "https://hooks.example/c",
  events: [CERTIFICATION_EARNED], idempotencyKey: $k}) { webhookEndpoint { id } } }`
	var out struct {
		CreateWebhookEndpoint struct{ WebhookEndpoint struct{ ID string } }
	}
	env.MustDo(admin, create, map[string]any{"k": "k-1"}, &out)
	env.MustDo(admin, create, map[string]any{"k": "k-1"}, nil) // the repeat writes nothing
	epID := out.CreateWebhookEndpoint.WebhookEndpoint.ID
	earnAZ103(t, env, newProfile(t, env, "kai"))
	d := endpoints(t, env)[epID].Deliveries.Nodes
	if len(d) != 1 {
		t.Fatalf("got deliveries %+v, want one", d)
	}
	vars := map[string]any{"ep": epID, "d": d[0].ID}
	env.Clock.Advance(time.Minute) // the events are read in the order of their instants
	env.MustDo(admin, `mutation($ep: ID!) { rotateWebhookSecret(input: {webhookEndpointId: $ep}) { secret } }`, vars, nil)
	env.Clock.Advance(time.Minute)
	env.MustDo(admin, `mutation($d: ID!) { replayWebhookDelivery(input: {deliveryId: $d}) { webhookDelivery { id } } }`, vars, nil)

	// Refused and failed mutations.
	missing := map[string]any{"ep": uuid.NewString(), "d": uuid.NewString()}
	env.MustFail(admin, `mutation($ep: ID!) { rotateWebhookSecret(input: {webhookEndpointId: $ep}) { secret } }`, missing, "NOT_FOUND")
	env.MustFail(admin, `mutation($d: ID!) { replayWebhookDelivery(input: {deliveryId: $d}) { webhookDelivery { id } } }`, missing, "NOT_FOUND")
	env.MustFail(admin, `mutation($ep: ID!) { deleteWebhookEndpoint(input: {webhookEndpointId: $ep}) { webhookEndpoint { id } } }`, missing, "NOT_FOUND")
	env.MustFail(apitest.Support("s"), `mutation($ep: ID!) { deleteWebhookEndpoint(input: {webhookEndpointId: $ep}) { webhookEndpoint { id } } }`, vars, "FORBIDDEN")
	env.MustFail(apitest.Support("s"), `mutation($d: ID!) { replayWebhookDelivery(input: {deliveryId: $d}) { webhookDelivery { id } } }`, vars, "FORBIDDEN")

	env.Clock.Advance(time.Minute)
	env.MustDo(admin, `mutation($ep: ID!) { deleteWebhookEndpoint(input: {webhookEndpointId: $ep}) { webhookEndpoint { id } } }`, vars, nil)
	rows := webhookAudits(t, env)
	want := []string{"webhook.createEndpoint", "webhook.rotateSecret", "webhook.replayDelivery", "webhook.deleteEndpoint"}
	if len(rows) != len(want) {
		t.Fatalf("got %d audit events %+v, want %v", len(rows), rows, want)
	}
	for i, row := range rows {
		if row.Action != want[i] || row.Actor != apitest.Issuer+"|root" || detailsOf(t, row)["endpointId"] != epID {
			t.Errorf("event %d: got %+v, want %s by root on endpoint %s", i, row, want[i], epID)
		}
	}

	// Support reads them where it reads every audit event: node(id).
	var node struct {
		Node *struct{ Action, Actor, Details string }
	}
	id := base64.RawURLEncoding.EncodeToString([]byte("AuditEvent:" + rows[3].ID.String()))
	env.MustDo(apitest.Support("s"), `query($id: ID!) { node(id: $id) { ... on AuditEvent { action actor details } } }`,
		map[string]any{"id": id}, &node)
	if node.Node == nil || node.Node.Action != "webhook.deleteEndpoint" || !strings.Contains(node.Node.Details, "hooks.example/c") {
		t.Fatalf("support reading the deletion's audit event: got %+v", node.Node)
	}
}
