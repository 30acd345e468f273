package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/webhook"
)

// Webhook adapts the Store to webhook.Store.
type Webhook struct{ *Store }

var _ webhook.Store = Webhook{}

// InTx runs fn in one transaction with a Webhook bound to it (see Store.InTx).
func (s Webhook) InTx(ctx context.Context, fn func(tx webhook.Store) error) error {
	return s.Store.InTx(ctx, func(tx *Store) error { return fn(Webhook{tx}) })
}

// nodeIDSQL is the SQL of graph/scalar.NodeID: the unpadded base64url of "Kind:uuid"
// (PostgreSQL's base64 breaks lines every 76 characters; translate drops the breaks).
// TestWebhookNodeIDMatchesAPI keeps the two equal.
func nodeIDSQL(kind, idExpr string) string {
	return `rtrim(translate(encode(convert_to('` + kind + `:' || ` + idExpr + `::text, 'UTF8'), 'base64'), E'+/\n', '-_'), '=')`
}

// webhookCertificationData is the `data` of the certification events, over earned_certifications
// e, certifications c and certification_profiles p: ids, MCID, certification code and dates;
// never an e-mail address, attempts or scores (docs/api.md "Webhooks").
var webhookCertificationData = `jsonb_build_object(
    'earnedCertificationId', ` + nodeIDSQL("EarnedCertification", "e.id") + `,
    'certificationProfileId', ` + nodeIDSQL("CertificationProfile", "p.id") + `,
    'mcid', p.mcid::text,
    'certificationCode', c.code,
    'earnedOn', e.earned_on,
    'expiresOn', e.expires_on)`

// webhookProfileData is the `data` of PROFILE_TRANSFERRED over certification_profiles p.
var webhookProfileData = `jsonb_build_object(
    'certificationProfileId', ` + nodeIDSQL("CertificationProfile", "p.id") + `,
    'mcid', p.mcid::text)`

// webhookMergeData is the `data` of PROFILE_MERGED over the survivor s and the duplicate d.
var webhookMergeData = `jsonb_build_object(
    'survivorProfileId', ` + nodeIDSQL("CertificationProfile", "s.id") + `,
    'survivorMcid', s.mcid::text,
    'duplicateProfileId', ` + nodeIDSQL("CertificationProfile", "d.id") + `,
    'duplicateMcid', d.mcid::text)`

// webhookFanOutSQL inserts one delivery per enabled endpoint subscribed to each event of the
// CTE ev (id, type, occurred_at), due at once.
const webhookFanOutSQL = `
INSERT INTO webhook_deliveries (event_id, endpoint_id, created_at, next_attempt_at)
SELECT ev.id, ep.id, ev.occurred_at, ev.occurred_at
FROM ev JOIN webhook_endpoints ep ON ev.type = ANY (ep.events) AND ep.disabled_at IS NULL`

// EmitWebhook writes ev and its deliveries (webhook.Emitter) in the store's transaction.
func (s *Store) EmitWebhook(ctx context.Context, ev webhook.Event) error {
	var insert string
	var args []any
	switch ev.Type {
	case webhook.CertificationEarned, webhook.CertificationRenewed, webhook.RenewalWindowOpened, webhook.CertificationExpired:
		insert = `SELECT $1, $2, ` + webhookCertificationData + `
    FROM earned_certifications e
    JOIN certifications c ON c.id = e.certification_id
    JOIN certification_profiles p ON p.id = e.profile_id
    WHERE e.id = $3`
		args = []any{ev.Type, ev.At, ev.EarnedID}
	case webhook.ProfileTransferred:
		insert = `SELECT $1, $2, ` + webhookProfileData + ` FROM certification_profiles p WHERE p.id = $3`
		args = []any{ev.Type, ev.At, ev.ProfileID}
	case webhook.ProfileMerged:
		insert = `SELECT $1, $2, ` + webhookMergeData + `
    FROM certification_profiles s, certification_profiles d WHERE s.id = $3 AND d.id = $4`
		args = []any{ev.Type, ev.At, ev.ProfileID, ev.DuplicateID}
	default:
		return fmt.Errorf("emit webhook: unknown event type %q", ev.Type)
	}
	res, err := s.exec(ctx, `WITH ev AS (
    INSERT INTO webhook_events (type, occurred_at, data) `+insert+`
    RETURNING id, type, occurred_at
), fan AS (`+webhookFanOutSQL+`)
SELECT 1 FROM ev`, args...)
	if err != nil {
		return fmt.Errorf("emit webhook %s: %w", ev.Type, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("emit webhook %s: wrote %d events (%v), want 1", ev.Type, n, err)
	}
	return nil
}

// webhookExpireSQL writes the CERTIFICATION_EXPIRED event of every current earned
// certification whose expiry date is in ($3, $2] (a set-based pass through
// earned_certifications_expiry_idx), once per (earned certification, expiry date) by the
// dedupe key, and its deliveries. $1 now.
var webhookExpireSQL = `WITH ev AS (
    INSERT INTO webhook_events (type, occurred_at, data, dedupe_key)
    SELECT 'CERTIFICATION_EXPIRED', $1, ` + webhookCertificationData + `,
           'CERTIFICATION_EXPIRED:' || e.id || ':' || e.expires_on
    FROM earned_certifications e
    JOIN certifications c ON c.id = e.certification_id
    JOIN certification_profiles p ON p.id = e.profile_id
    WHERE e.superseded_at IS NULL AND e.expires_on IS NOT NULL
      AND e.expires_on <= $2 AND e.expires_on > $3
    ON CONFLICT ON CONSTRAINT webhook_events_dedupe_key DO NOTHING
    RETURNING id, type, occurred_at
), fan AS (` + webhookFanOutSQL + `)
SELECT count(*) FROM ev`

// ExpirePass runs the expiry pass (webhook.Store).
func (s Webhook) ExpirePass(ctx context.Context, now time.Time, today date.Date) (int, error) {
	var n int
	from := date.Of(today.Time().Add(-webhook.ExpiryLookback))
	if err := s.get(ctx, &n, webhookExpireSQL, now, today, from); err != nil {
		return 0, fmt.Errorf("expiry events: %w", err)
	}
	return n, nil
}

type endpointRow struct {
	ID                      uuid.UUID      `db:"id"`
	URL                     string         `db:"url"`
	Events                  pq.StringArray `db:"events"`
	Description             *string        `db:"description"`
	CreatedAt               time.Time      `db:"created_at"`
	DisabledAt              *time.Time     `db:"disabled_at"`
	DisabledReason          *string        `db:"disabled_reason"`
	PreviousSecretExpiresAt *time.Time     `db:"previous_secret_expires_at"`
}

const endpointColumns = `id, url, events, description, created_at, disabled_at, disabled_reason, previous_secret_expires_at`

func (r endpointRow) domain() webhook.Endpoint {
	e := webhook.Endpoint{ID: r.ID, URL: r.URL, Description: r.Description, CreatedAt: r.CreatedAt.UTC(),
		DisabledAt: notifyUTC(r.DisabledAt), DisabledReason: r.DisabledReason,
		PreviousSecretExpiresAt: notifyUTC(r.PreviousSecretExpiresAt)}
	for _, t := range r.Events {
		e.Events = append(e.Events, webhook.EventType(t))
	}
	return e
}

func eventStrings(ts []webhook.EventType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// InsertEndpoint stores a new endpoint (webhook.Store).
func (s Webhook) InsertEndpoint(ctx context.Context, e webhook.Endpoint, secret, createdBy string) (webhook.Endpoint, error) {
	var r endpointRow
	err := s.get(ctx, &r, `INSERT INTO webhook_endpoints (url, events, description, secret, created_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+endpointColumns,
		e.URL, pq.Array(eventStrings(e.Events)), e.Description, secret, e.CreatedAt, createdBy)
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("insert webhook endpoint: %w", err)
	}
	return r.domain(), nil
}

// RotateSecret replaces an endpoint's secret (webhook.Store).
func (s Webhook) RotateSecret(ctx context.Context, id uuid.UUID, secret string, previousUntil time.Time) (webhook.Endpoint, error) {
	var r endpointRow
	err := s.get(ctx, &r, `UPDATE webhook_endpoints
SET previous_secret = secret, previous_secret_expires_at = $3, secret = $2
WHERE id = $1 RETURNING `+endpointColumns, id, secret, previousUntil)
	if err != nil {
		return webhook.Endpoint{}, notFound(err, "webhook endpoint")
	}
	return r.domain(), nil
}

// DeleteEndpoint deletes an endpoint and, by cascade, its deliveries (webhook.Store).
func (s Webhook) DeleteEndpoint(ctx context.Context, id uuid.UUID) (webhook.Endpoint, error) {
	var r endpointRow
	if err := s.get(ctx, &r, `DELETE FROM webhook_endpoints WHERE id = $1 RETURNING `+endpointColumns, id); err != nil {
		return webhook.Endpoint{}, notFound(err, "webhook endpoint")
	}
	return r.domain(), nil
}

// keysetPage cuts a page fetched with limit+1 rows.
func keysetPage[R, T any](rows []R, limit int, conv func(R) T) ([]T, bool) {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out, more
}

func cursorArgs(after *webhook.Cursor) (*time.Time, uuid.UUID) {
	if after == nil {
		return nil, uuid.Nil
	}
	return &after.At, after.ID
}

// Endpoints lists endpoints, oldest first (webhook.Store).
func (s Webhook) Endpoints(ctx context.Context, after *webhook.Cursor, limit int) ([]webhook.Endpoint, bool, error) {
	at, id := cursorArgs(after)
	var rows []endpointRow
	if err := s.sel(ctx, &rows, `SELECT `+endpointColumns+` FROM webhook_endpoints
WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2))
ORDER BY created_at, id LIMIT $3`, at, id, limit+1); err != nil {
		return nil, false, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out, more := keysetPage(rows, limit, endpointRow.domain)
	return out, more, nil
}

type deliveryRow struct {
	ID            uuid.UUID  `db:"id"`
	EndpointID    uuid.UUID  `db:"endpoint_id"`
	EventID       uuid.UUID  `db:"event_id"`
	EventType     string     `db:"event_type"`
	OccurredAt    time.Time  `db:"occurred_at"`
	ReplayOf      *uuid.UUID `db:"replay_of"`
	CreatedAt     time.Time  `db:"created_at"`
	Attempts      int        `db:"attempts"`
	LastAttemptAt *time.Time `db:"last_attempt_at"`
	LastStatus    *int       `db:"last_status"`
	LastError     *string    `db:"last_error"`
	NextAttemptAt *time.Time `db:"next_attempt_at"`
	DeliveredAt   *time.Time `db:"delivered_at"`
	FailedAt      *time.Time `db:"failed_at"`
}

// deliveryColumns lists a delivery's columns, over webhook_deliveries d and webhook_events v.
const deliveryColumns = `d.id, d.endpoint_id, d.event_id, v.type AS event_type, v.occurred_at, d.replay_of,
       d.created_at, d.attempts, d.last_attempt_at, d.last_status, d.last_error, d.next_attempt_at,
       d.delivered_at, d.failed_at`

func (r deliveryRow) domain() webhook.Delivery {
	return webhook.Delivery{ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: webhook.EventType(r.EventType),
		OccurredAt: r.OccurredAt.UTC(), ReplayOf: r.ReplayOf, CreatedAt: r.CreatedAt.UTC(), Attempts: r.Attempts,
		LastAttemptAt: notifyUTC(r.LastAttemptAt), LastStatus: r.LastStatus, LastError: r.LastError,
		NextAttemptAt: notifyUTC(r.NextAttemptAt), DeliveredAt: notifyUTC(r.DeliveredAt), FailedAt: notifyUTC(r.FailedAt)}
}

// Deliveries lists an endpoint's deliveries, newest first (webhook.Store).
func (s Webhook) Deliveries(ctx context.Context, endpointID uuid.UUID, after *webhook.Cursor, limit int) ([]webhook.Delivery, bool, error) {
	at, id := cursorArgs(after)
	var rows []deliveryRow
	if err := s.sel(ctx, &rows, `SELECT `+deliveryColumns+`
FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
WHERE d.endpoint_id = $1 AND ($2::timestamptz IS NULL OR (d.created_at, d.id) < ($2, $3))
ORDER BY d.created_at DESC, d.id DESC LIMIT $4`, endpointID, at, id, limit+1); err != nil {
		return nil, false, fmt.Errorf("list webhook deliveries: %w", err)
	}
	out, more := keysetPage(rows, limit, deliveryRow.domain)
	return out, more, nil
}

// Replay adds a new delivery of a delivery's event (webhook.Store).
func (s Webhook) Replay(ctx context.Context, deliveryID uuid.UUID, now time.Time) (webhook.Delivery, error) {
	var r deliveryRow
	err := s.get(ctx, &r, `WITH d AS (
    INSERT INTO webhook_deliveries (event_id, endpoint_id, replay_of, created_at, next_attempt_at)
    SELECT o.event_id, o.endpoint_id, o.id, $2, $2 FROM webhook_deliveries o WHERE o.id = $1
    RETURNING *
)
SELECT `+deliveryColumns+` FROM d JOIN webhook_events v ON v.id = d.event_id`, deliveryID, now)
	if err != nil {
		return webhook.Delivery{}, notFound(err, "webhook delivery")
	}
	return r.domain(), nil
}

type pendingDeliveryRow struct {
	deliveryRow
	URL            string          `db:"url"`
	Secret         string          `db:"secret"`
	PreviousSecret *string         `db:"previous_secret"`
	Data           json.RawMessage `db:"data"`
	LeaseUntil     time.Time       `db:"lease_until"`
}

// webhookClaimSQL leases the oldest due delivery of an enabled endpoint that no other sender
// is claiming right now, like notifyClaimSQL: it walks webhook_deliveries_pending_idx, locks
// the first row it can (SKIP LOCKED) and moves its next_attempt_at to $2, the end of the lease
// and its token, in one statement that commits on its own. It returns what the request needs,
// the previous secret only while it still signs ($1 now); the joined delivery is the row
// before the update, so next_attempt_at is when it was due.
const webhookClaimSQL = `
WITH claimed AS (
    SELECT q.id FROM webhook_deliveries q
    JOIN webhook_endpoints ep ON ep.id = q.endpoint_id AND ep.disabled_at IS NULL
    WHERE q.next_attempt_at IS NOT NULL AND q.next_attempt_at <= $1
    ORDER BY q.next_attempt_at
    LIMIT 1
    FOR UPDATE OF q SKIP LOCKED
), leased AS (
    UPDATE webhook_deliveries q SET next_attempt_at = $2
    FROM claimed WHERE q.id = claimed.id
    RETURNING q.id, q.next_attempt_at
)
SELECT ` + deliveryColumns + `, leased.next_attempt_at AS lease_until, ep.url, ep.secret,
       CASE WHEN ep.previous_secret_expires_at > $1 THEN ep.previous_secret END AS previous_secret, v.data
FROM leased
JOIN webhook_deliveries d ON d.id = leased.id
JOIN webhook_events v ON v.id = d.event_id
JOIN webhook_endpoints ep ON ep.id = d.endpoint_id`

// ClaimDelivery leases one due delivery until now + lease, in one committed statement
// (webhook.Store), like Notify.ClaimDue; it holds no transaction or connection afterwards.
func (s Webhook) ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (webhook.Claim, error) {
	var r pendingDeliveryRow
	if ok, err := s.leaseRow(ctx, &r, webhookClaimSQL, now, lease); !ok {
		return nil, err
	}
	p := webhook.Pending{Delivery: r.domain(), URL: r.URL, Secrets: []string{r.Secret}, Data: r.Data}
	if r.PreviousSecret != nil {
		p.Secrets = append(p.Secrets, *r.PreviousSecret)
	}
	return &webhookLease{outboxLease: outboxLease{s: s.Store, table: "webhook_deliveries", id: p.ID, until: r.LeaseUntil,
		open: "next_attempt_at IS NOT NULL", lost: webhook.ErrLeaseLost}, p: p}, nil
}

// webhookLease is a leased delivery (webhook.Claim).
type webhookLease struct {
	outboxLease
	p webhook.Pending
}

func (c *webhookLease) Pending() webhook.Pending { return c.p }

// MarkDelivered records the delivery whoever holds it now, as long as it is neither delivered
// nor given up (outboxLease.settle).
func (c *webhookLease) MarkDelivered(ctx context.Context, at time.Time, status int) error {
	return c.settle(ctx, `attempts = attempts + 1, last_attempt_at = $2, last_status = $3, last_error = NULL,
    delivered_at = $2, next_attempt_at = NULL`, at, status)
}

// MarkFailed records a failed attempt while the lease is still this sender's; giving up also
// disables the endpoint, in the same transaction.
func (c *webhookLease) MarkFailed(ctx context.Context, at time.Time, status *int, lastError string, next *time.Time, disableReason string) error {
	var failed *time.Time
	if next == nil {
		failed = &at
	}
	return c.s.InTx(ctx, func(tx *Store) error {
		l := c.outboxLease
		l.s = tx
		if err := l.guarded(ctx, `attempts = attempts + 1, last_attempt_at = $3, last_status = $4, last_error = $5,
    next_attempt_at = $6, failed_at = $7`, at, status, lastError, next, failed); err != nil || next != nil {
			return err
		}
		// Given up: admins see why the endpoint was disabled.
		if _, err := tx.exec(ctx, `UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3
WHERE id = $1 AND disabled_at IS NULL`, c.p.EndpointID, at, disableReason); err != nil {
			return fmt.Errorf("disable webhook endpoint: %w", err)
		}
		return nil
	})
}
