-- Why: support merges and catalog changes are audited (who, when, reason, ticket, what
-- moved); merges are idempotent on a client key stored with a hash of the request and the
-- response (docs/domain.md "Merging"). A profile is merged away at most once.
-- +goose Up
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    action      text NOT NULL,
    actor       text NOT NULL,
    reason      text,
    ticket      text,
    details     jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL
);

-- The profiles an event concerns (a merge concerns both sides).
CREATE TABLE audit_event_profiles (
    event_id   uuid NOT NULL REFERENCES audit_events (id),
    profile_id uuid NOT NULL REFERENCES certification_profiles (id),
    PRIMARY KEY (profile_id, event_id)
);

CREATE TABLE merges (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    survivor_id    uuid NOT NULL REFERENCES certification_profiles (id),
    duplicate_id   uuid NOT NULL REFERENCES certification_profiles (id),
    audit_event_id uuid NOT NULL REFERENCES audit_events (id),
    merged_at      timestamptz NOT NULL,
    CONSTRAINT merges_duplicate_key UNIQUE (duplicate_id),
    CHECK (survivor_id <> duplicate_id)
);
CREATE INDEX merges_survivor_idx ON merges (survivor_id);

CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    request_hash bytea NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
