ALTER TABLE presence_events ADD CONSTRAINT presence_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
