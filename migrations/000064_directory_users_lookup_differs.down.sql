DROP INDEX directory_users_graph_upn_any_idx;
DROP INDEX directory_users_email_any_idx;
CREATE INDEX directory_users_graph_upn_any_idx ON directory_users (lower(graph_upn)) WHERE graph_upn IS NOT NULL;
CREATE INDEX directory_users_email_any_idx ON directory_users (lower(email)) WHERE email IS NOT NULL;
