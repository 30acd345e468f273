-- Why (issue 13, source FAQ 4): a learner whose certification profile sits on one personal
-- account and whose Learn profile sits on another moves the profile themselves. The owner
-- starts a transfer and gets a single-use code valid for 30 minutes; only its SHA-256 is
-- stored, so the table cannot be used to take profiles over. At most one open transfer per
-- profile: a new start revokes the earlier one.
-- +goose Up
CREATE TABLE profile_transfers (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id      uuid NOT NULL REFERENCES certification_profiles (id),
    from_account_id uuid NOT NULL REFERENCES accounts (id),
    code_hash       bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    to_account_id   uuid REFERENCES accounts (id),
    revoked_at      timestamptz,
    CONSTRAINT profile_transfers_code_hash_key UNIQUE (code_hash),
    CONSTRAINT profile_transfers_completed_check CHECK ((completed_at IS NULL) = (to_account_id IS NULL)),
    CONSTRAINT profile_transfers_closed_once_check CHECK (completed_at IS NULL OR revoked_at IS NULL)
);
CREATE UNIQUE INDEX profile_transfers_open_idx ON profile_transfers (profile_id)
    WHERE completed_at IS NULL AND revoked_at IS NULL;
