-- Why: every request is made by an account (iss + sub of the token); each account owns exactly
-- one Learn profile, created on its first request (docs/domain.md "People and identities").
-- +goose Up
CREATE TABLE accounts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer       text NOT NULL,
    subject      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('PERSONAL', 'WORK_OR_SCHOOL')),
    email        text,
    display_name text,
    created_at   timestamptz NOT NULL,
    CONSTRAINT accounts_identity_key UNIQUE (issuer, subject)
);

CREATE TABLE learn_profiles (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES accounts (id),
    created_at timestamptz NOT NULL,
    CONSTRAINT learn_profiles_account_key UNIQUE (account_id)
);
