-- Why (issue 15): every creating mutation a client may retry after UNAVAILABLE takes an optional
-- idempotency key, kept in the table the merge already uses. A learner's or an admin's key is
-- their own: two callers may send the same key and each gets their own result. A key is now
-- unique per (scope, owner, key); owner is the caller's identity for per-caller scopes and ''
-- for the merge, whose keys stay shared by all support agents (another agent reusing one is
-- refused, as before). Existing rows are merge keys, so they take ''.
-- +goose Up
ALTER TABLE idempotency_keys ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (scope, owner, key);
