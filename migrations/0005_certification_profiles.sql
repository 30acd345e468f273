-- Why: certification (MCID) profiles, owned by one personal account; the one-to-one
-- connection to a Learn profile lives in profile_links, where both sides are unique so
-- the database keeps the rule even when two link requests race (docs/domain.md "Connecting").
-- MCIDs come from a sequence, so a number is never handed out twice, even after a merge.
-- +goose Up
CREATE SEQUENCE mcid_seq START WITH 990000001 NO CYCLE;

CREATE TABLE certification_profiles (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    mcid               bigint NOT NULL DEFAULT nextval('mcid_seq'),
    account_id         uuid NOT NULL REFERENCES accounts (id),
    legal_name         text NOT NULL CHECK (char_length(btrim(legal_name)) BETWEEN 1 AND 200),
    email              text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    preferred_language text,
    status             text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'MERGED')),
    merged_into        uuid REFERENCES certification_profiles (id),
    merged_at          timestamptz,
    created_at         timestamptz NOT NULL,
    CONSTRAINT certification_profiles_mcid_key UNIQUE (mcid),
    CONSTRAINT certification_profiles_merged_check
        CHECK ((status = 'MERGED') = (merged_into IS NOT NULL) AND merged_into <> id)
);
CREATE INDEX certification_profiles_account_idx ON certification_profiles (account_id) WHERE status = 'ACTIVE';
CREATE INDEX certification_profiles_merged_into_idx ON certification_profiles (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX certification_profiles_name_search_idx ON certification_profiles USING gin (search_fold(legal_name) gin_trgm_ops);
CREATE INDEX certification_profiles_email_idx ON certification_profiles (lower(email));

-- Emails a profile took over from merged duplicates (docs/domain.md "Merging": kept as alternates).
CREATE TABLE profile_alternate_emails (
    profile_id      uuid NOT NULL REFERENCES certification_profiles (id),
    email           text NOT NULL,
    from_profile_id uuid REFERENCES certification_profiles (id),
    added_at        timestamptz NOT NULL,
    PRIMARY KEY (profile_id, email)
);
CREATE INDEX profile_alternate_emails_email_idx ON profile_alternate_emails (lower(email));

CREATE TABLE profile_links (
    learn_profile_id         uuid NOT NULL REFERENCES learn_profiles (id),
    certification_profile_id uuid NOT NULL REFERENCES certification_profiles (id),
    linked_at                timestamptz NOT NULL,
    CONSTRAINT profile_links_learn_profile_key UNIQUE (learn_profile_id),
    CONSTRAINT profile_links_certification_profile_key UNIQUE (certification_profile_id)
);
