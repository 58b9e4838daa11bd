ALTER TABLE directory_users RESET (fillfactor);
CREATE INDEX directory_users_tenant_status_idx ON directory_users (tenant_id, resolution_status, monitor_id);
CREATE INDEX directory_users_monitor_idx ON directory_users (monitor_id);
UPDATE directory_users d SET monitor_id = NULL
    WHERE monitor_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM monitors m WHERE m.id = d.monitor_id);
ALTER TABLE directory_users ADD CONSTRAINT directory_users_monitor_id_fkey
    FOREIGN KEY (monitor_id) REFERENCES monitors (id) ON DELETE SET NULL;
