-- Why: a queued reminder can become stale before it is sent: the certification was renewed
-- (its cycle is no longer the current one), it expired, a merge superseded it, or a later
-- reminder of the same cycle was queued while mail was down (docs/domain.md "Notifications": none
-- after renewal or expiry, no burst of old mail). The sender marks such a row cancelled instead
-- of sending or deleting it, so the outbox keeps its history; the pending index then skips it.
-- +goose Up
ALTER TABLE notifications
    ADD COLUMN cancelled_at  timestamptz,
    ADD COLUMN cancel_reason text CHECK (cancel_reason IN ('RENEWED', 'EXPIRED', 'SUPERSEDED', 'REPLACED')),
    ADD CONSTRAINT notifications_cancel_check
        CHECK ((cancelled_at IS NULL) = (cancel_reason IS NULL) AND (cancelled_at IS NULL OR sent_at IS NULL));
DROP INDEX notifications_pending_idx;
CREATE INDEX notifications_pending_idx ON notifications (next_attempt_at)
    WHERE sent_at IS NULL AND cancelled_at IS NULL;
