-- Why (issue 15 point 2): automatic persisted queries registered on one API instance must work
-- on every other one, so registrations live here rather than in each process. Bounded: a
-- document is at most QUERY_MAX_BYTES (checked before it is stored; the CHECK is a backstop)
-- and the API keeps at most APQ_MAX_DOCUMENTS rows, dropping the least recently used ones
-- (used_at is refreshed when an instance loads a document it did not hold, and at most hourly
-- while it does). A dropped document costs a client one PERSISTED_QUERY_NOT_FOUND and a resend.
-- +goose Up
CREATE TABLE persisted_queries (
    hash     text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    document text NOT NULL CHECK (octet_length(document) <= 262144),
    used_at  timestamptz NOT NULL
);
CREATE INDEX persisted_queries_used_at_idx ON persisted_queries (used_at);
