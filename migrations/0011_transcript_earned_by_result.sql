-- Why: recordExamResult is idempotent on externalId: a replay must return the first result
-- and the certifications it earned. The earned record remembers the result that earned it
-- (NULL for records made otherwise, e.g. by an import); merges move earned records and
-- results together, so the reference stays valid.
-- +goose Up
ALTER TABLE earned_certifications ADD COLUMN exam_result_id uuid REFERENCES exam_results (id);
CREATE INDEX earned_certifications_exam_result_idx ON earned_certifications (exam_result_id)
    WHERE exam_result_id IS NOT NULL;
