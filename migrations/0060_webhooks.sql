-- Why (issue 16 part 3): signed webhooks (Standard Webhooks 1.0) for the systems around the
-- programme. An admin registers endpoints; every change that makes an event writes one
-- webhook_events row and one webhook_deliveries row per subscribed endpoint in the change's own
-- transaction (an outbox: no event without its change, no change without its event); senders
-- claim due deliveries with FOR UPDATE SKIP LOCKED. The secret is kept in clear because
-- signing needs it (HMAC); the API shows it once. dedupe_key makes the set-based passes
-- (certification expired, renewal window opened) insert each event once, whatever the number of
-- instances running them.
-- +goose Up
CREATE TABLE webhook_endpoints (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url                        text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    events                     text[] NOT NULL CHECK (cardinality(events) > 0),
    description                text,
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    created_at                 timestamptz NOT NULL,
    created_by                 text NOT NULL,
    disabled_at                timestamptz,
    disabled_reason            text,
    CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL)),
    CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL))
);
CREATE INDEX webhook_endpoints_list_idx ON webhook_endpoints (created_at, id);
-- The fan-out of events to enabled endpoints: also what the reminder scheduler's statement (run
-- with enable_seqscan off) reads, so that its plan stays cheap (no seq-scan penalty, no JIT).
CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints (id) WHERE disabled_at IS NULL;

CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL,
    dedupe_key  text,
    CONSTRAINT webhook_events_dedupe_key UNIQUE (dedupe_key)
);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id        uuid NOT NULL REFERENCES webhook_events (id),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    replay_of       uuid REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    attempts        int NOT NULL DEFAULT 0,
    -- NULL once the delivery is finished (delivered or given up).
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    last_status     int,
    last_error      text,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    CHECK (next_attempt_at IS NULL OR (delivered_at IS NULL AND failed_at IS NULL))
);
-- One first delivery per (event, endpoint); replays are extra rows.
CREATE UNIQUE INDEX webhook_deliveries_once_idx ON webhook_deliveries (event_id, endpoint_id)
    WHERE replay_of IS NULL;
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
