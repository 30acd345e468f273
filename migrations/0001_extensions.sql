-- Why: support search is case- and accent-insensitive and matches parts of names
-- (trigram indexes), which needs these contrib modules and an IMMUTABLE unaccent wrapper
-- usable in index expressions.
-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE FUNCTION search_fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, t));
