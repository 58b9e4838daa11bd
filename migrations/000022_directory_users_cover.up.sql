-- A presence snapshot page (GET /api/v1/presence) lists 1,000 of a tenant's
-- users in object id order with their UPN and external id. With those two
-- columns in the (tenant_id, object_id) index the page is an index-only
-- scan: 0.15–0.2 ms instead of ~0.9 ms of heap fetches, one per user, as
-- the rows lie in insertion order and object ids are random. The two
-- columns seldom change (a roster entry's UPN never), so carrying them in
-- the index adds little to the roster's writes.
CREATE UNIQUE INDEX directory_users_tenant_object_cover_idx ON directory_users (tenant_id, object_id) INCLUDE (upn, external_id);
DROP INDEX directory_users_tenant_object_idx;
ALTER INDEX directory_users_tenant_object_cover_idx RENAME TO directory_users_tenant_object_idx;
