DROP TRIGGER IF EXISTS subscriptions_notify_update ON subscriptions;
DROP TRIGGER IF EXISTS subscriptions_notify ON subscriptions;
DROP FUNCTION IF EXISTS subscriptions_notify();
