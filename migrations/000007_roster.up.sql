-- The roster (issue 5): where a tenant's users to monitor come from, and
-- what directory_users needs beyond 000001 to show how each was resolved.

-- A tenant's roster is either a list kept by its admin (entries from the
-- API, the form or a CSV) or one Entra group, followed with Graph's group
-- delta query. In group mode the group is the roster: a sync replaces or
-- edits every row of the tenant.
CREATE TABLE roster_sources (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    kind            text NOT NULL DEFAULT 'list' CHECK (kind IN ('list', 'group')),
    group_id        uuid,                 -- the Entra group's object id (kind 'group')
    -- Graph's @odata.deltaLink after the last complete round; NULL: the next
    -- sync reads the whole group. Delta links expire after 7 days.
    delta_link      text,
    -- The group has nested groups, whose members group delta does not
    -- report: every sync then reads transitiveMembers in full.
    nested          boolean NOT NULL DEFAULT false,
    last_sync_at    timestamptz,
    last_sync_error text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'group') = (group_id IS NOT NULL))
);

ALTER TABLE directory_users
    -- Where the row came from. Removing a row (from the list, or because it
    -- left the group) deletes it; its monitor assignment goes with it.
    ADD COLUMN source       text NOT NULL DEFAULT 'list' CHECK (source IN ('list', 'csv', 'group')),
    -- upn stays what was entered (the key an import matches on, maybe a mail
    -- address); graph_upn is the UPN Graph answered with.
    ADD COLUMN graph_upn    text,
    -- A 'duplicate' row resolved to the same user as this earlier row; when
    -- that row goes, its duplicates are resolved again.
    ADD COLUMN duplicate_of uuid REFERENCES directory_users (id) ON DELETE SET NULL,
    -- Entry order: rows of one import share created_at, and "the later of two
    -- entries for one user is the duplicate" needs an order.
    ADD COLUMN seq          bigint GENERATED ALWAYS AS IDENTITY;

CREATE INDEX directory_users_pending_idx ON directory_users (tenant_id, seq) WHERE resolution_status = 'pending';
CREATE INDEX directory_users_duplicate_of_idx ON directory_users (duplicate_of) WHERE duplicate_of IS NOT NULL;
