CREATE INDEX deliveries_backlog_idx ON deliveries (tenant_id, endpoint_id, status) WHERE status <> 'delivered';
DROP INDEX deliveries_replayable_idx;
