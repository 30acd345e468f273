-- Why: exam results (idempotent on the delivery service's external id) and the earned
-- certifications they produce. A certification earned again after expiry is a new row; the
-- old one stays. SUPERSEDED is stored (set by merges); ACTIVE/RENEWABLE/EXPIRED are computed
-- from the clock (docs/domain.md "Earned certifications").
-- +goose Up
CREATE TABLE exam_results (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id  uuid NOT NULL REFERENCES certification_profiles (id),
    exam_code   text NOT NULL REFERENCES exams (code),
    passed      bool NOT NULL,
    score       int CHECK (score BETWEEN 0 AND 1000),
    taken_at    timestamptz NOT NULL,
    language    text,
    external_id text NOT NULL CHECK (btrim(external_id) <> ''),
    recorded_at timestamptz NOT NULL,
    CONSTRAINT exam_results_external_id_key UNIQUE (external_id)
);
CREATE INDEX exam_results_profile_idx ON exam_results (profile_id, taken_at, id);

CREATE TABLE earned_certifications (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id       uuid NOT NULL REFERENCES certification_profiles (id),
    certification_id uuid NOT NULL REFERENCES certifications (id),
    earned_on        date NOT NULL,
    expires_on       date CHECK (expires_on IS NULL OR expires_on > earned_on),
    superseded_at    timestamptz,
    superseded_by    uuid REFERENCES earned_certifications (id),
    created_at       timestamptz NOT NULL,
    CHECK ((superseded_at IS NULL) = (superseded_by IS NULL))
);
CREATE INDEX earned_certifications_profile_idx ON earned_certifications (profile_id, earned_on, id);
CREATE INDEX earned_certifications_current_idx ON earned_certifications (profile_id, certification_id)
    WHERE superseded_at IS NULL;
CREATE INDEX earned_certifications_expiry_idx ON earned_certifications (expires_on)
    WHERE superseded_at IS NULL AND expires_on IS NOT NULL;
