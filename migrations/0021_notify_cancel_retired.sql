-- Why (issue 13): a retired certification gets no reminders. A reminder queued before its
-- certification's retirement date and still unsent after it is cancelled with the new reason
-- RETIRED (the outbox keeps its history, as for the other reasons of 0012).
-- +goose Up
ALTER TABLE notifications DROP CONSTRAINT notifications_cancel_reason_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_cancel_reason_check
    CHECK (cancel_reason IN ('RENEWED', 'EXPIRED', 'SUPERSEDED', 'REPLACED', 'RETIRED'));
