-- A user's history (the tenant pages' per-user timeline) is read by user:
-- without this index it would scan every event of every tenant.
CREATE INDEX presence_events_user_idx ON presence_events (tenant_id, user_object_id, id);
