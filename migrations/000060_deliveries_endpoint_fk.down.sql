DELETE FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = d.endpoint_id);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES endpoints (id) ON DELETE CASCADE;
