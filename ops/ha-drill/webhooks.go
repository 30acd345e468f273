package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/auth"
)

// webhookEvents are the event types the drill's load produces (internal/webhook): exam
// results that earn a certification (CERTIFICATION_EARNED), whose 30-day reminder the
// scheduler then opens (RENEWAL_WINDOW_OPENED, emitted with the reminder), passed renewal
// assessments (CERTIFICATION_RENEWED) and merges (PROFILE_MERGED).
var webhookEvents = []string{"CERTIFICATION_EARNED", "RENEWAL_WINDOW_OPENED", "CERTIFICATION_RENEWED", "PROFILE_MERGED"}

const createWebhookMutation = `mutation Hook($in: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $in) { webhookEndpoint { id } } }`

// registerWebhook creates, as an admin, the endpoint that posts the load's events to the
// drill's webhook sink, and returns its id. The cluster is healthy then: one try, with an
// idempotency key, retried only on the answers a client retries.
func registerWebhook(ctx context.Context, base string, secret []byte, run, url string) (uuid.UUID, error) {
	tok, err := auth.MintDev(secret, "recert-dev", "recert", time.Now(),
		auth.DevToken{Subject: "drill-admin", Roles: []string{auth.RoleAdmin}, Name: "drill-admin", TTL: 4 * time.Hour})
	if err != nil {
		return uuid.Nil, err
	}
	in := map[string]any{"url": url, "events": webhookEvents, "description": "failover drill " + run,
		"idempotencyKey": "drill-" + run + "-webhook"}
	client := &http.Client{Timeout: 30 * time.Second}
	var a answer
	for n := 1; n <= 5; n++ {
		if a = call(ctx, client, base, tok, createWebhookMutation, map[string]any{"in": in}); !a.Retry {
			break
		}
		sleep(ctx, backoff(n))
	}
	if !a.OK {
		return uuid.Nil, fmt.Errorf("createWebhookEndpoint: %s %s", a.Code, a.Msg)
	}
	var d struct {
		CreateWebhookEndpoint struct {
			WebhookEndpoint struct{ ID string } `json:"webhookEndpoint"`
		} `json:"createWebhookEndpoint"`
	}
	if err := json.Unmarshal(a.Data, &d); err != nil {
		return uuid.Nil, fmt.Errorf("createWebhookEndpoint: %w", err)
	}
	return rawID(d.CreateWebhookEndpoint.WebhookEndpoint.ID)
}

// webhookPending counts the endpoint's deliveries neither delivered nor given up (due, or
// leased by a sender).
func webhookPending(ctx context.Context, db *sql.DB, endpoint uuid.UUID) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries
		WHERE endpoint_id = $1 AND delivered_at IS NULL AND failed_at IS NULL`, endpoint).Scan(&n)
	return n, err
}

// waitWebhookDrain waits until every delivery to the endpoint is delivered or given up; a
// lease left by a sender that lost its database lasts about 2.5 minutes.
func waitWebhookDrain(ctx context.Context, db *sql.DB, endpoint uuid.UUID) error {
	return waitFor(ctx, "the webhook outbox to drain", 5*time.Minute, func() (bool, string) {
		n, err := webhookPending(ctx, db, endpoint)
		if err != nil {
			return false, err.Error()
		}
		return n == 0, strconv.Itoa(n) + " pending"
	})
}

// verifyWebhooks compares, by webhook-id, the deliveries the database records as delivered to
// the drill's endpoint with what the sink received (which runs from before the endpoint
// existed): one recorded but never received is a lost delivery; one received twice was posted
// twice.
func verifyWebhooks(ctx context.Context, db *sql.DB, endpoint uuid.UUID, hs *hookSink, f *findings) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT 'msg_' || event_id::text, attempts FROM webhook_deliveries
		WHERE endpoint_id = $1 AND delivered_at IS NOT NULL ORDER BY delivered_at`, endpoint)
	if err != nil {
		return fmt.Errorf("verify webhook deliveries: %w", err)
	}
	defer rows.Close()
	received := hs.webhookIDs()
	for rows.Next() {
		var id string
		var attempts int
		if err := rows.Scan(&id, &attempts); err != nil {
			return err
		}
		f.HooksInDB++
		if attempts > 1 {
			f.HooksRetried++
		}
		if !received[id] {
			f.HooksNeverReceived = append(f.HooksNeverReceived, id)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if f.HooksPending, err = webhookPending(ctx, db, endpoint); err != nil {
		return err
	}
	f.Hooks, f.HooksTwice, f.HooksTwiceIDs = hs.counts()
	return nil
}
