-- Why: renewal attempts and the renewals they produce (docs/domain.md "Renewal"). The partial
-- unique index keeps one attempt in progress per earned certification; the unique cycle on
-- renewals makes a second renewal of the same cycle impossible even under races.
-- +goose Up
CREATE TABLE assessment_attempts (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    earned_certification_id uuid NOT NULL REFERENCES earned_certifications (id),
    version_id              uuid NOT NULL REFERENCES assessment_versions (id),
    language                text NOT NULL,
    cycle_expires_on        date NOT NULL,
    started_at              timestamptz NOT NULL,
    submitted_at            timestamptz,
    score                   int CHECK (score BETWEEN 0 AND 100),
    passed                  bool,
    CHECK ((submitted_at IS NULL) = (score IS NULL) AND (score IS NULL) = (passed IS NULL))
);
CREATE UNIQUE INDEX assessment_attempts_one_in_progress ON assessment_attempts (earned_certification_id)
    WHERE submitted_at IS NULL;
CREATE INDEX assessment_attempts_cycle_idx ON assessment_attempts (earned_certification_id, cycle_expires_on, started_at);

-- The questions served to an attempt, in order, with the order its choices were shown in,
-- and (after submission) what was chosen.
CREATE TABLE attempt_questions (
    attempt_id   uuid NOT NULL REFERENCES assessment_attempts (id),
    question_id  uuid NOT NULL REFERENCES assessment_questions (id),
    position     int  NOT NULL,
    choice_order uuid[] NOT NULL,
    selected     uuid[],
    PRIMARY KEY (attempt_id, question_id),
    UNIQUE (attempt_id, position)
);

CREATE TABLE renewals (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    earned_certification_id uuid NOT NULL REFERENCES earned_certifications (id),
    attempt_id              uuid NOT NULL REFERENCES assessment_attempts (id),
    renewed_at              timestamptz NOT NULL,
    previous_expires_on     date NOT NULL,
    new_expires_on          date NOT NULL CHECK (new_expires_on > previous_expires_on),
    CONSTRAINT renewals_attempt_key UNIQUE (attempt_id),
    CONSTRAINT renewals_cycle_key UNIQUE (earned_certification_id, previous_expires_on)
);
