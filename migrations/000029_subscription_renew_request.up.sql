-- Renew: a tenant admin asks for a monitor's subscription to be renewed
-- now rather than at its jittered point before expiry. The engine's next
-- pass renews it and clears the request; the pages show it pending.
ALTER TABLE subscriptions ADD COLUMN renew_requested_at timestamptz;
