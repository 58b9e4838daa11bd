-- Each web instance remembers for a few seconds the subscription ids (with
-- the clientState) that matched no subscription (web/graphhook), so that
-- forged notifications repeating them cost no query. Such an id can come to
-- match: a subscription Graph already held is adopted after a 409, a row
-- being created takes a new clientState. So every change of what a
-- notification is matched against — a row inserted or deleted, its graph_id
-- or client_state_hash changed — is announced on pb_subscriptions, with
-- the row's previous Graph id ('' when it had none), in the transaction
-- that makes it and whoever makes it: every instance then forgets the ids
-- it found unknown, and what it knew of the previous id. Renewals change
-- neither column and announce nothing.
CREATE FUNCTION subscriptions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('pb_subscriptions', '');
    ELSE
        PERFORM pg_notify('pb_subscriptions', coalesce(OLD.graph_id, ''));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_notify AFTER INSERT OR DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscriptions_notify();
CREATE TRIGGER subscriptions_notify_update AFTER UPDATE OF graph_id, client_state_hash ON subscriptions
    FOR EACH ROW WHEN (OLD.graph_id IS DISTINCT FROM NEW.graph_id OR OLD.client_state_hash IS DISTINCT FROM NEW.client_state_hash)
    EXECUTE FUNCTION subscriptions_notify();
