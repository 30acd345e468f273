-- Why (issue 17): a learner grants their employer's tenant a live, revocable view of a
-- certification profile (the team view). A grant is per profile and tenant; revoking keeps the
-- row (the learner sees the history and how often managers read it). Every manager read bumps
-- access_count and last_accessed_at and is audited.
-- +goose Up
CREATE TABLE team_access_grants (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    certification_profile_id uuid NOT NULL REFERENCES certification_profiles (id),
    tenant_id                text NOT NULL CHECK (tenant_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    granted_by               text NOT NULL,
    granted_at               timestamptz NOT NULL,
    revoked_at               timestamptz,
    access_count             bigint NOT NULL DEFAULT 0,
    last_accessed_at         timestamptz
);
-- One live grant per profile and tenant; granting again returns it.
CREATE UNIQUE INDEX team_access_grants_live_idx ON team_access_grants (certification_profile_id, tenant_id)
    WHERE revoked_at IS NULL;
-- A manager's page walks the tenant's live grants.
CREATE INDEX team_access_grants_tenant_idx ON team_access_grants (tenant_id, id) WHERE revoked_at IS NULL;

