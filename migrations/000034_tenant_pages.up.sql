-- Indexes for the tenant pages of a large tenant (issue 13: every page of a
-- tenant with 100,000 users within 300 ms), each serving a read that
-- otherwise visited every row of the table, every tenant's.

-- Home, the tenant API's GET /tenant, the Users and Monitors pages count a
-- tenant's roster by status and monitor (store.RosterCounts, MonitorLoads):
-- with the three columns in one index that is an index-only scan of the
-- tenant's entries, about a third of the time of reading the table's rows
-- (30 ms for 100,000), and no longer a scan of every tenant's. The columns
-- are those the resolver and the sharding already update, so their writes
-- were not HOT before either.
CREATE INDEX directory_users_tenant_status_idx ON directory_users (tenant_id, resolution_status, monitor_id);

-- The Audit log reads a page newest first, keyset by (at, id): with id in
-- the index the order is the index's and the cursor a range of it.
CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at, id);
DROP INDEX audit_log_tenant_idx;
ALTER INDEX audit_log_tenant_at_idx RENAME TO audit_log_tenant_idx;
-- Its filters: a kind of actor ("portal" of "portal:<oid>") in page order,
-- and an action prefix as a range (C collation, as store.AuditPage
-- compares it), for actions few entries have: without them a filter
-- matching ten entries of a year's log read all of it.
CREATE INDEX audit_log_tenant_actor_idx ON audit_log (tenant_id, split_part(actor, ':', 1), at, id);
CREATE INDEX audit_log_tenant_action_idx ON audit_log (tenant_id, (action COLLATE "C"), at, id);

-- Integration counts each webhook's deliveries not delivered (pending, dead,
-- superseded: store.Backlogs). Deliveries have no tenant index, so it read
-- every delivery of every tenant; this one holds only those not delivered,
-- a small part of the table.
CREATE INDEX deliveries_backlog_idx ON deliveries (tenant_id, endpoint_id, status) WHERE status <> 'delivered';
