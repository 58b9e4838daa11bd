ALTER TABLE invites
    DROP CONSTRAINT invites_bound_whole,
    DROP COLUMN bound_ms_tenant_id,
    DROP COLUMN bound_object_id,
    DROP COLUMN bound_upn,
    DROP COLUMN bound_at;
DROP TABLE portal_admins;
