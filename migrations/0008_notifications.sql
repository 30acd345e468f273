-- Why: the reminder outbox (docs/domain.md "Notifications"). One row per (earned certification,
-- cycle, sequence) so re-runs, crashes and several workers never write a duplicate or a fifth
-- reminder; the partial index serves the sender's claim query.
-- +goose Up
CREATE TABLE notifications (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    earned_certification_id uuid NOT NULL REFERENCES earned_certifications (id),
    cycle_expires_on        date NOT NULL,
    sequence                int  NOT NULL CHECK (sequence BETWEEN 1 AND 4),
    kind                    text NOT NULL CHECK (kind IN ('RENEWAL_WINDOW_OPEN', 'RENEWAL_REMINDER')),
    email                   text NOT NULL,
    language                text,
    scheduled_for           timestamptz NOT NULL,
    created_at              timestamptz NOT NULL,
    sent_at                 timestamptz,
    delivery_attempts       int NOT NULL DEFAULT 0,
    next_attempt_at         timestamptz NOT NULL,
    last_error              text,
    CONSTRAINT notifications_cycle_sequence_key UNIQUE (earned_certification_id, cycle_expires_on, sequence)
);
CREATE INDEX notifications_pending_idx ON notifications (next_attempt_at) WHERE sent_at IS NULL;
