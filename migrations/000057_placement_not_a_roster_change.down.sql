CREATE OR REPLACE FUNCTION directory_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_changes (tenant_id)
        SELECT DISTINCT c.tenant_id FROM changed c WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id);
    RETURN NULL;
END $$;
