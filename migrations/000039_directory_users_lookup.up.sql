-- Support looks a person up by UPN or e-mail across every tenant (the
-- console's user lookup, store.FindUsersAnywhere): as entered, as Graph
-- answered it, or their mail. The per-tenant (tenant_id, lower(upn)) index
-- cannot serve a search without the tenant.
CREATE INDEX directory_users_upn_any_idx ON directory_users (lower(upn));
CREATE INDEX directory_users_graph_upn_any_idx ON directory_users (lower(graph_upn)) WHERE graph_upn IS NOT NULL;
CREATE INDEX directory_users_email_any_idx ON directory_users (lower(email)) WHERE email IS NOT NULL;
