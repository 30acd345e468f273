-- Why: owners share their transcript with employers through unguessable, revocable,
-- optionally expiring codes; every public view is counted (docs/domain.md "Transcript sharing").
-- +goose Up
CREATE TABLE transcript_shares (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id uuid NOT NULL REFERENCES certification_profiles (id),
    code       text NOT NULL CHECK (char_length(code) >= 22),
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    view_count bigint NOT NULL DEFAULT 0,
    CONSTRAINT transcript_shares_code_key UNIQUE (code)
);
CREATE INDEX transcript_shares_profile_idx ON transcript_shares (profile_id, created_at);
