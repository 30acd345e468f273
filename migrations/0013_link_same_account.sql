-- Why (issue 11): a Learn profile and the certification profile it is connected to must belong
-- to the same personal account (docs/domain.md "Connecting the profiles"), and a MERGED profile is
-- never connected. The rules used to live in the code only, and a merge across accounts broke
-- the first one by moving the duplicate's connection to the survivor. Now every link row
-- carries the account id, and composite foreign keys tie (Learn profile, account) and
-- (certification profile, account, ACTIVE) to the two sides: the database refuses a
-- cross-account link or a link to a MERGED profile whoever writes it, and refuses to mark a
-- connected profile MERGED.
--
-- Merge idempotency keys now belong to the support agent who first used them: the key's
-- actor is stored, and another agent reusing it is refused instead of getting the first
-- agent's merge replayed.
-- +goose Up

-- Existing rows that break the rules are removed before the constraints are added: they give
-- renewal through another person's Learn profile, so they cannot be kept, and keeping either
-- side's owner's consent is impossible to decide here. Each removal is recorded as an unlink
-- audit event on the certification profile (what was connected and since when), so support
-- can see it and the owner can connect their own profile again.
WITH bad AS (
    DELETE FROM profile_links l
    USING certification_profiles p, learn_profiles lp
    WHERE p.id = l.certification_profile_id AND lp.id = l.learn_profile_id
      AND (p.account_id <> lp.account_id OR p.status <> 'ACTIVE')
    RETURNING l.learn_profile_id, l.certification_profile_id, l.linked_at,
              p.account_id <> lp.account_id AS cross_account
), ev AS (
    INSERT INTO audit_events (action, actor, reason, details, occurred_at)
    SELECT 'profile.unlink', 'migration:0013_link_same_account',
           CASE WHEN cross_account
                THEN 'connection between profiles of different accounts removed (issue 11)'
                ELSE 'connection of a merged profile removed (issue 11)' END,
           jsonb_build_object('learnProfileId', learn_profile_id, 'certificationProfileId', certification_profile_id,
                              'linkedAt', to_char(linked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
           now()
    FROM bad
    RETURNING id, (details->>'certificationProfileId')::uuid AS profile_id
)
INSERT INTO audit_event_profiles (event_id, profile_id) SELECT id, profile_id FROM ev;

ALTER TABLE learn_profiles
    ADD CONSTRAINT learn_profiles_id_account_key UNIQUE (id, account_id);
ALTER TABLE certification_profiles
    ADD CONSTRAINT certification_profiles_id_account_status_key UNIQUE (id, account_id, status);

ALTER TABLE profile_links
    ADD COLUMN account_id uuid,
    ADD COLUMN certification_status text NOT NULL DEFAULT 'ACTIVE'
        CONSTRAINT profile_links_certification_status_check CHECK (certification_status = 'ACTIVE');
UPDATE profile_links l SET account_id = p.account_id FROM certification_profiles p WHERE p.id = l.certification_profile_id;
ALTER TABLE profile_links
    ALTER COLUMN account_id SET NOT NULL,
    ADD CONSTRAINT profile_links_learn_profile_account_fkey
        FOREIGN KEY (learn_profile_id, account_id) REFERENCES learn_profiles (id, account_id),
    ADD CONSTRAINT profile_links_certification_profile_account_fkey
        FOREIGN KEY (certification_profile_id, account_id, certification_status)
        REFERENCES certification_profiles (id, account_id, status);

-- Keys held before this migration are given the actor of the merge they stored (the audit
-- event the response names); a key whose merge cannot be found is dropped (it could only be
-- replayed, and nobody can be shown to own it).
ALTER TABLE idempotency_keys ADD COLUMN actor text;
UPDATE idempotency_keys k SET actor = e.actor
FROM audit_events e WHERE e.id::text = k.response->>'auditEventId';
DELETE FROM idempotency_keys WHERE actor IS NULL;
ALTER TABLE idempotency_keys ALTER COLUMN actor SET NOT NULL;
