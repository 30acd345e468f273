-- Why: one renewal assessment per renewable certification, published in versions; each
-- version has its own question bank, passing score, served question count and learning
-- modules. Old attempts keep the version they were taken on (docs/domain.md "Renewal assessment").
-- +goose Up
CREATE TABLE renewal_assessments (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    certification_id uuid NOT NULL REFERENCES certifications (id),
    CONSTRAINT renewal_assessments_certification_key UNIQUE (certification_id)
);

CREATE TABLE assessment_versions (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    assessment_id         uuid NOT NULL REFERENCES renewal_assessments (id),
    version               int  NOT NULL CHECK (version >= 1),
    passing_score         int  NOT NULL DEFAULT 60 CHECK (passing_score BETWEEN 1 AND 100),
    questions_per_attempt int  NOT NULL CHECK (questions_per_attempt >= 1),
    languages             text[] NOT NULL CHECK (cardinality(languages) > 0),
    published_at          timestamptz NOT NULL,
    CONSTRAINT assessment_versions_version_key UNIQUE (assessment_id, version)
);

CREATE TABLE assessment_questions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version_id       uuid NOT NULL REFERENCES assessment_versions (id),
    position         int  NOT NULL,
    prompt           text NOT NULL CHECK (btrim(prompt) <> ''),
    multiple_answers bool NOT NULL,
    UNIQUE (version_id, position)
);

CREATE TABLE assessment_choices (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    question_id uuid NOT NULL REFERENCES assessment_questions (id),
    position    int  NOT NULL,
    text        text NOT NULL CHECK (btrim(text) <> ''),
    correct     bool NOT NULL,
    UNIQUE (question_id, position)
);

CREATE TABLE learning_modules (
    version_id uuid NOT NULL REFERENCES assessment_versions (id),
    position   int  NOT NULL,
    title      text NOT NULL CHECK (btrim(title) <> ''),
    url        text NOT NULL CHECK (url ~ '^https?://'),
    PRIMARY KEY (version_id, position)
);
