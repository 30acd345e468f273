-- Why (issue 13 part 1): a renewal assessment is offered in the languages of the certification's
-- exams, so questions and choices carry text per language. English stays in
-- assessment_questions.prompt and assessment_choices.text; every other language has one row
-- per question here: its prompt, and its choice texts in the order of the choices' positions
-- (choices keep their ids and correctness, so scoring never depends on the language). A
-- version offers exactly the languages all its questions have text in; versions published
-- before had English text only, so they now offer English only (docs/domain.md "Renewal
-- assessment"); the catalog loader adds the shipped translations to the shipped versions.
-- +goose Up
CREATE TABLE assessment_question_texts (
    question_id uuid NOT NULL REFERENCES assessment_questions (id),
    language    text NOT NULL CHECK (btrim(language) <> '' AND lower(language) <> 'en'),
    prompt      text NOT NULL CHECK (btrim(prompt) <> ''),
    choices     text[] NOT NULL CHECK (cardinality(choices) >= 2 AND array_position(choices, NULL) IS NULL),
    PRIMARY KEY (question_id, language)
);

UPDATE assessment_versions SET languages = ARRAY['en'] WHERE 'en' = ANY (languages) AND languages <> ARRAY['en'];
