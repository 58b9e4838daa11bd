-- Support suspends, resumes and deletes tenants from the console
-- (internal/tenancy). A suspended tenant keeps everything but does nothing:
-- its subscriptions are deleted at Graph by the engine, its keys and
-- streams stop; resuming restores the status it had (onboarding or
-- active). A deleted tenant is the same until purge_after, when its rows
-- are removed; until then it can be resumed.
ALTER TABLE tenants
    ADD COLUMN status_reason     text,
    ADD COLUMN status_changed_at timestamptz,
    ADD COLUMN status_changed_by text,
    ADD COLUMN resume_status     text CHECK (resume_status IN ('onboarding', 'active')),
    ADD COLUMN purge_after       timestamptz,
    ADD CONSTRAINT tenants_purge_only_deleted CHECK (purge_after IS NULL OR status = 'deleted');
CREATE INDEX tenants_purge_idx ON tenants (purge_after) WHERE status = 'deleted';
