-- Why: the catalog (docs/domain.md "Catalog"): exams, certifications, the requirement paths that
-- earn them (any one path, every exam of it) and expert prerequisites (any one of a set).
-- +goose Up
CREATE TABLE exams (
    code       text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]+-[A-Z0-9]+$'),
    title      text NOT NULL CHECK (btrim(title) <> ''),
    languages  text[] NOT NULL CHECK (cardinality(languages) > 0),
    retired_on date,
    supersedes text REFERENCES exams (code) CHECK (supersedes <> code),
    updated_at timestamptz NOT NULL
);

CREATE TABLE certifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code        text NOT NULL CHECK (code ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    level       text NOT NULL CHECK (level IN ('FUNDAMENTALS', 'ASSOCIATE', 'EXPERT', 'SPECIALTY')),
    released_on date NOT NULL,
    retired_on  date CHECK (retired_on IS NULL OR retired_on >= released_on),
    languages   text[] NOT NULL CHECK (cardinality(languages) > 0),
    updated_at  timestamptz NOT NULL,
    CONSTRAINT certifications_code_key UNIQUE (code)
);
CREATE INDEX certifications_level_code_idx ON certifications (level, code);
CREATE INDEX certifications_search_idx ON certifications USING gin (search_fold(name) gin_trgm_ops);

-- A path is a set of exams; passing all of them earns the certification.
CREATE TABLE requirement_paths (
    certification_id uuid NOT NULL REFERENCES certifications (id),
    path_no          int  NOT NULL CHECK (path_no >= 1),
    exam_code        text NOT NULL REFERENCES exams (code),
    PRIMARY KEY (certification_id, path_no, exam_code)
);
CREATE INDEX requirement_paths_exam_idx ON requirement_paths (exam_code);

CREATE TABLE certification_prerequisites (
    certification_id uuid NOT NULL REFERENCES certifications (id),
    prerequisite_id  uuid NOT NULL REFERENCES certifications (id),
    PRIMARY KEY (certification_id, prerequisite_id),
    CHECK (certification_id <> prerequisite_id)
);
