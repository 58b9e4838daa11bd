-- The console's lookup across tenants (store.FindUsersAnywhere) finds a
-- person by the UPN entered, the UPN Graph answered, or their mail. Most
-- rows hold one address three times: Graph answers with the UPN that was
-- entered, and a member's mail is usually that UPN too. Indexed whole,
-- each of those answers wrote a second and third index entry of the same
-- address for every resolved user, and since resolution rewrites the row
-- (it sets the object id, which an index holds, so the new version is
-- not heap-only) the cold start wrote them for all of its million users,
-- and autovacuum then read and cleaned both indexes while the first
-- changes flowed (issue 16: "vacuuming indexes" of directory_users
-- through every latency phase, 15 % of PostgreSQL's CPU there). The UPN
-- as entered stays indexed in full; the other two only where they differ
-- from it, which is also where only they can find the row.
--
-- Measured (2026-12-06, 2 cores, BenchmarkResolvingARosterOf10000Users,
-- two runs each): recording the resolution of a roster 18.9–19.4 →
-- 17.0–17.1 µs and 878–880 → 684–689 bytes of WAL a user.
DROP INDEX directory_users_graph_upn_any_idx;
DROP INDEX directory_users_email_any_idx;
CREATE INDEX directory_users_graph_upn_any_idx ON directory_users (lower(graph_upn)) WHERE lower(graph_upn) <> lower(upn);
CREATE INDEX directory_users_email_any_idx ON directory_users (lower(email)) WHERE lower(email) <> lower(upn);
