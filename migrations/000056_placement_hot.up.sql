-- Placing a user on a monitor (store.AssignUsers) writes only monitor_id
-- and updated_at. While monitor_id was indexed (directory_users_monitor_idx,
-- and directory_users_tenant_status_idx for the page counts, 000034) every
-- placement wrote a new entry into each of the table's indexes, and the
-- cold start places every user: at a million users 158.8 s of PostgreSQL's
-- execution and 46.8 M buffers (47 a row), and a million dead entries in
-- ten indexes that autovacuum then read while the first changes waited
-- (issue 16, BENCHMARKS.md). Unindexed, with room on the row's page, the
-- update is heap-only (HOT): no index entry at all. Measured on 100,000
-- users of one tenant over 154 monitors, with the pages filled to 45 %:
-- 3.16 s and 110 MB of WAL before, 1.23 s and 28 MB after, table and
-- indexes 112 MB instead of 131 MB (fewer index entries outweigh the
-- emptier pages). How full to fill them, measured on 5,000 users added,
-- resolved and placed (TestPlacingTheResolvedRosterOnMonitorsWrites...):
-- 100 % left room for 0 placements, 80 % for 38 %, 65 % for 71 %, 55 %
-- for 93 %, 45 % for 71 % (the resolution's new versions took the room),
-- 35 % for all, with the table and its indexes the smallest (5.0 MB
-- against 6.5 MB at 100 %).
--
-- What the indexes served is answered otherwise: the counts by status and
-- monitor (RosterCounts, MonitorLoads) read the tenant's rows along its
-- other indexes; the per-monitor reads (MonitorStatuses,
-- SubscriptionCoverage) group the tenant's rows once instead of one index
-- lookup per monitor; and every `WHERE monitor_id = $1` names its tenant.
--
-- The key to monitors goes too: its ON DELETE SET NULL is an UPDATE ...
-- WHERE monitor_id = $1, which without an index reads the whole table for
-- each deleted monitor (a tenant's purge deletes all of them), and it
-- checked every placed row against monitors. store.DeleteMonitor clears
-- the tenant's users of the monitor it deletes, in its transaction, and
-- AssignUsers places users only on monitors of the tenant it has locked
-- against deletion (FOR KEY SHARE, as the key's own check did). A
-- tenant's users go with the tenant (their tenant_id key cascades).
ALTER TABLE directory_users DROP CONSTRAINT directory_users_monitor_id_fkey;
DROP INDEX directory_users_monitor_idx;
DROP INDEX directory_users_tenant_status_idx;

-- Room on each page for a row's next versions: resolution (not HOT: it
-- changes indexed columns, but it takes the room on the page when there
-- is some) and then placement. It applies to pages written from now on;
-- an existing table gets it when rewritten (VACUUM FULL).
ALTER TABLE directory_users SET (fillfactor = 35);
