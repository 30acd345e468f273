-- Why (issue 13 part 4): every reminder goes to the profile's contact email, so the owner can
-- change it, after proving they read the new address: a numeric code is emailed there and
-- confirmed. contact_email_changes keeps the pending request with only the SHA-256 of its
-- code and the count of wrong codes (a few lock it); verification_emails is the outbox that
-- delivers the code, with the same claim-send-record discipline as the reminder outbox. The
-- code stays in its outbox row only until it is delivered, cancelled or no longer useful.
-- +goose Up
CREATE TABLE contact_email_changes (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id    uuid NOT NULL REFERENCES certification_profiles (id),
    email         text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    code_hash     bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    requested_by  text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    failed_codes  int NOT NULL DEFAULT 0 CHECK (failed_codes >= 0),
    confirmed_at  timestamptz,
    revoked_at    timestamptz,
    CONSTRAINT contact_email_changes_closed_once_check CHECK (confirmed_at IS NULL OR revoked_at IS NULL)
);
CREATE UNIQUE INDEX contact_email_changes_open_idx ON contact_email_changes (profile_id)
    WHERE confirmed_at IS NULL AND revoked_at IS NULL;

CREATE TABLE verification_emails (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    change_id         uuid NOT NULL REFERENCES contact_email_changes (id),
    email             text NOT NULL,
    code              text,
    legal_name        text NOT NULL,
    language          text,
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    next_attempt_at   timestamptz NOT NULL,
    delivery_attempts int NOT NULL DEFAULT 0,
    last_error        text,
    sent_at           timestamptz,
    cancelled_at      timestamptz,
    CONSTRAINT verification_emails_change_key UNIQUE (change_id),
    CONSTRAINT verification_emails_code_check CHECK ((code IS NULL) = (sent_at IS NOT NULL OR cancelled_at IS NOT NULL))
);
CREATE INDEX verification_emails_pending_idx ON verification_emails (next_attempt_at)
    WHERE sent_at IS NULL AND cancelled_at IS NULL;
