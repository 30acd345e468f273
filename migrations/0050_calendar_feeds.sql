-- Why (issue 16): a learner subscribes their calendar app to a secret feed URL of their renewal
-- dates. Only a SHA-256 hash of the 256-bit token is stored, so a database leak does not leak
-- working URLs; revoking keeps the row (the owner's list shows it) and the URL answers 404.
-- +goose Up
CREATE TABLE calendar_feeds (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id uuid NOT NULL REFERENCES certification_profiles (id),
    token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT calendar_feeds_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX calendar_feeds_profile_idx ON calendar_feeds (profile_id, created_at);
