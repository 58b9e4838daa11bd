-- Each web instance keeps the API keys that authenticated in memory
-- (internal/keycache), so that a request costs no query. A change that can
-- make a key stop working or change what it may do is announced on
-- pb_api_keys with the key's tenant, in the transaction that makes it and
-- whoever makes it (the API's revoke, an operator suspending a tenant at
-- psql, a cascade): every instance forgets that tenant's keys when it
-- commits. Triggers rather than the store's methods, because tenants change
-- status by hand too. last_used_at, stamped at most once a minute, is not
-- such a change; NOTIFY collapses a transaction's equal payloads, so a
-- deleted tenant's many keys make one notification.
CREATE FUNCTION api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pb_api_keys', OLD.tenant_id::text);
    IF TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        PERFORM pg_notify('pb_api_keys', NEW.tenant_id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_notify AFTER UPDATE ON api_keys
    FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION api_keys_notify();
CREATE TRIGGER api_keys_notify_delete AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_notify();

CREATE FUNCTION tenants_notify_api_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pb_api_keys', OLD.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER tenants_notify_api_keys AFTER UPDATE OF status ON tenants
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION tenants_notify_api_keys();
CREATE TRIGGER tenants_notify_api_keys_delete AFTER DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_notify_api_keys();
