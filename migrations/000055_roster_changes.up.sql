-- The engine passes over every tenant each minute. Read in full, a pass
-- read the tenant's whole resolved roster, placed it over the monitors and
-- compared each monitor's subscription resource with the users it should
-- cover — at a million users 1,000 rosters a minute, ~1.2 s of our CPU and
-- ~2.7 s of PostgreSQL's in about 15 s of each minute, which queued the
-- 1,000 changes/s flow to p50 1.9 s while it ran (issue 16). A roster that
-- has not changed since the last clean reconciliation need not be read:
-- every statement that writes directory_users leaves a row here naming
-- its tenants, and the engine takes (deletes) them before it reads the
-- roster. A row left by a transaction that commits after the take stays
-- for the next pass — unlike a counter or a sequence's maximum, whose
-- value an earlier-numbered late commit would not raise. Rows are only
-- inserted by writers, never updated, so writers never wait on each other
-- here. No key to tenants (it would lock the tenant's row for every
-- write): the users a tenant's purge deletes leave no row, their tenant
-- being gone by then.
CREATE TABLE roster_changes (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX roster_changes_tenant_idx ON roster_changes (tenant_id);

CREATE FUNCTION directory_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_changes (tenant_id)
        SELECT DISTINCT c.tenant_id FROM changed c WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id);
    RETURN NULL;
END $$;

-- One trigger per event: a trigger with transition tables fires on one.
CREATE TRIGGER directory_users_inserted AFTER INSERT ON directory_users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION directory_users_changed();
CREATE TRIGGER directory_users_updated AFTER UPDATE ON directory_users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION directory_users_changed();
CREATE TRIGGER directory_users_deleted AFTER DELETE ON directory_users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION directory_users_changed();

-- What the last clean reconciliation placed the roster over: a digest of
-- the monitors it used and the capacity of each (NULL: the next pass
-- reconciles in full — never yet, or a monitor's subscription failed).
ALTER TABLE engine_tenants ADD COLUMN reconciled_digest bigint;

-- Every pass lists the tenant's subscriptions; without this index each
-- list read the whole table (2,540 rows at a million users, often
-- updated: ~92 pages a call, 2,000 calls a minute).
CREATE INDEX subscriptions_tenant_idx ON subscriptions (tenant_id);
