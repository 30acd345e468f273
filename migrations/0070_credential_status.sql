-- Issue 17: Open Badges credentials carry a Bitstring Status List entry. Each earned
-- certification gets one status list index the first time its credential is issued, and
-- keeps it (renewals re-issue with the same index); an index is never reused. Whether the bit
-- is set is not stored: it is read from the record (superseded_at) when a list is served.
-- +goose Up
CREATE TABLE credential_status_entries (
    earned_certification_id uuid PRIMARY KEY REFERENCES earned_certifications (id),
    status_index            bigint GENERATED ALWAYS AS IDENTITY (MINVALUE 0 START WITH 0) UNIQUE,
    allocated_at            timestamptz NOT NULL
);
