-- A placement (store.AssignUsers) is the engine's own output of reading
-- the roster, written by the reconciliation that then makes each monitor's
-- subscription cover what it placed; recorded as a roster change it made
-- the next pass reconcile every placed tenant in full again, to find
-- nothing to do: after a cold start of a million users, 1,000 rosters
-- read again while the first changes waited (issue 16). AssignUsers says
-- what it is writing in a setting local to its transaction, set back
-- before it returns, and its writes leave no row. Every other write does.
CREATE OR REPLACE FUNCTION directory_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('presencebridge.placing', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO roster_changes (tenant_id)
        SELECT DISTINCT c.tenant_id FROM changed c WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = c.tenant_id);
    RETURN NULL;
END $$;
