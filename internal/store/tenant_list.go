package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TenantListItem is one tenant of the console's list, with the figures
// support reads at a glance.
type TenantListItem struct {
	ID         uuid.UUID
	Name       string
	MSDomain   string
	AdminEmail string
	Status     string // onboarding, active, suspended, deleted
	Health     string // healthy, degraded
	// Monitored users are resolved and assigned to an authorized monitor;
	// Unmonitored are resolved but fit none (UserCounts' meaning).
	Monitored, Unmonitored int
	// MonitorsNeedingAction are the monitors not authorized: pending,
	// needing re-authorization or an update, disabled.
	MonitorsNeedingAction int
	// LastNotificationAt is the latest notification any of its
	// subscriptions received; nil: none ever.
	LastNotificationAt *time.Time
	// DeadDeliveries and PendingDeliveries are its webhooks' dead letters
	// and deliveries still to be made, each counted up to
	// BacklogCountCap.
	DeadDeliveries, PendingDeliveries int
	OpenAlerts                        int
}

// BacklogCountCap bounds the deliveries the list counts per tenant and
// kind: a tenant with a million dead letters costs the page what one with
// ten thousand does, and shows "10,000 or more" (the Integration page has
// the exact figures).
const BacklogCountCap = 10000

// TenantSort is an order of the tenant list.
type TenantSort string

// Orders of the tenant list; within equal keys, by name then id.
const (
	SortByName TenantSort = "name"
	// SortByStatus: degraded, onboarding, active, suspended, deleted.
	SortByStatus TenantSort = "status"
	// SortByLastNotification: the quietest first (never notified, then the
	// oldest notification), where a stopped tenant shows.
	SortByLastNotification TenantSort = "last"
)

// ParseTenantSort reads an order's name; anything else is SortByName.
func ParseTenantSort(s string) TenantSort {
	switch TenantSort(s) {
	case SortByStatus, SortByLastNotification:
		return TenantSort(s)
	}
	return SortByName
}

// StatusRank orders the statuses SortByStatus sorts by: what needs
// support first.
func StatusRank(status, health string) int {
	switch {
	case status == TenantActive && health == HealthDegraded:
		return 0
	case status == TenantOnboarding:
		return 1
	case status == TenantActive:
		return 2
	case status == TenantSuspended:
		return 3
	}
	return 4
}

// statusRankSQL is StatusRank in SQL, over tenants t.
const statusRankSQL = `CASE WHEN t.status = 'active' AND t.health = 'degraded' THEN 0 WHEN t.status = 'onboarding' THEN 1
	WHEN t.status = 'active' THEN 2 WHEN t.status = 'suspended' THEN 3 ELSE 4 END`

// TenantCursor is the last tenant of a page, where the next one starts:
// its name and id, and the key of the order (Rank for SortByStatus, Last
// for SortByLastNotification).
type TenantCursor struct {
	Rank int        `json:"r,omitempty"`
	Last *time.Time `json:"l,omitempty"`
	Name string     `json:"n"`
	ID   uuid.UUID  `json:"i"`
}

// Cursor is where a page that ends with t ends, in order sort.
func (t TenantListItem) Cursor(sort TenantSort) TenantCursor {
	c := TenantCursor{Name: t.Name, ID: t.ID}
	switch sort {
	case SortByStatus:
		c.Rank = StatusRank(t.Status, t.Health)
	case SortByLastNotification:
		c.Last = t.LastNotificationAt
	}
	return c
}

// TenantListQuery picks a page of the console's tenant list.
type TenantListQuery struct {
	// Search keeps tenants whose name, Microsoft domain or admin e-mail
	// contains it, any case; empty keeps all.
	Search string
	Sort   TenantSort
	// Desc reverses the order.
	Desc bool
	// After is the last tenant of the page before (keyset paging: a page
	// costs the same however deep).
	After *TenantCursor
	Limit int
}

// TenantList reads a page of tenants with their figures; more reports
// whether tenants follow it.
//
// It is one statement whatever the page: the page's tenants are chosen
// first (by name along tenants_name_idx; by status or last notification
// from every tenant's row and one grouped pass over subscriptions, a row
// per monitor), then each figure is read for those tenants only, along
// the tenant's own index entries (roster by status, monitors, open
// alerts, each webhook's dead and pending deliveries up to
// BacklogCountCap). What a page costs grows with the rosters on it, not
// with the deployment.
func (s *Store) TenantList(ctx context.Context, q TenantListQuery) (page []TenantListItem, more bool, err error) {
	sql, args := tenantListSQL(q)
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, wrap("tenant list", err)
	}
	page, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (TenantListItem, error) {
		var t TenantListItem
		return t, r.Scan(&t.ID, &t.Name, &t.MSDomain, &t.AdminEmail, &t.Status, &t.Health, &t.LastNotificationAt,
			&t.Monitored, &t.Unmonitored, &t.MonitorsNeedingAction, &t.DeadDeliveries, &t.PendingDeliveries, &t.OpenAlerts)
	})
	if err != nil {
		return nil, false, wrap("tenant list", err)
	}
	if len(page) > q.Limit {
		return page[:q.Limit], true, nil
	}
	return page, false, nil
}

// tenantListSQL builds TenantList's statement for q: the order's key, its
// direction and the cursor are spelled out, so the name order reads
// tenants_name_idx in either direction.
func tenantListSQL(q TenantListQuery) (string, []any) {
	args := []any{likeEscape(q.Search), q.Limit}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var keys []string
	switch q.Sort {
	case SortByStatus:
		keys = []string{statusRankSQL}
	case SortByLastNotification:
		keys = []string{`coalesce(n.last, '-infinity')`}
	}
	keys = append(keys, `lower(t.name)`, `t.id`)
	dir, cmp := "", ">"
	if q.Desc {
		dir, cmp = " DESC", "<"
	}
	var order []string
	for _, k := range keys {
		order = append(order, k+dir)
	}
	after := "true"
	if c := q.After; c != nil {
		var vals []string
		switch q.Sort {
		case SortByStatus:
			vals = append(vals, arg(c.Rank))
		case SortByLastNotification:
			vals = append(vals, `coalesce(`+arg(c.Last)+`::timestamptz, '-infinity')`)
		}
		vals = append(vals, arg(strings.ToLower(c.Name)), arg(c.ID))
		after = `(` + strings.Join(keys, ", ") + `) ` + cmp + ` (` + strings.Join(vals, ", ") + `)`
	}
	orderBy := strings.Join(order, ", ")
	return `WITH n AS (SELECT tenant_id, max(last_notification_at) AS last FROM subscriptions GROUP BY tenant_id),
		p AS (SELECT t.id, t.name, coalesce(t.ms_domain, '') AS ms_domain, coalesce(t.admin_email, '') AS admin_email,
				t.status, t.health, n.last,
				row_number() OVER (ORDER BY ` + orderBy + `) AS rn
			FROM tenants t LEFT JOIN n ON n.tenant_id = t.id
			WHERE ($1 = '' OR t.name ILIKE '%' || $1 || '%' OR t.ms_domain ILIKE '%' || $1 || '%' OR t.admin_email ILIKE '%' || $1 || '%')
			  AND ` + after + `
			ORDER BY ` + orderBy + ` LIMIT $2 + 1)
		SELECT p.id, p.name, p.ms_domain, p.admin_email, p.status, p.health, p.last,
			coalesce(u.monitored, 0), coalesce(u.unmonitored, 0), m.n, d.dead, d.pending, a.n
		FROM p
		LEFT JOIN LATERAL (
			SELECT sum(g.n) FILTER (WHERE g.authorized) AS monitored, sum(g.n) FILTER (WHERE NOT g.authorized) AS unmonitored
			FROM (SELECT count(*) AS n, EXISTS (SELECT 1 FROM monitors mo WHERE mo.id = d.monitor_id
					AND mo.status = 'authorized' AND mo.removed_at IS NULL) AS authorized
				FROM directory_users d WHERE d.tenant_id = p.id AND d.resolution_status = 'resolved' AND p.rn <= $2
				GROUP BY d.monitor_id) g) u ON true
		LEFT JOIN LATERAL (SELECT count(*) AS n FROM monitors
			WHERE tenant_id = p.id AND removed_at IS NULL AND status <> 'authorized' AND p.rn <= $2) m ON true
		LEFT JOIN LATERAL (SELECT coalesce(sum(least(x.dead, ` + strconv.Itoa(BacklogCountCap) + `)), 0)::bigint AS dead,
				coalesce(sum(least(x.pending, ` + strconv.Itoa(BacklogCountCap) + `)), 0)::bigint AS pending
			FROM endpoints e, LATERAL (SELECT
				(SELECT count(*) FROM (SELECT 1 FROM deliveries dl WHERE dl.endpoint_id = e.id AND dl.status = 'dead'
					LIMIT ` + strconv.Itoa(BacklogCountCap) + `) c) AS dead,
				(SELECT count(*) FROM (SELECT 1 FROM deliveries dl WHERE dl.endpoint_id = e.id
					AND dl.` + pendingStatus + ` LIMIT ` + strconv.Itoa(BacklogCountCap) + `) c) AS pending) x
			WHERE e.tenant_id = p.id AND p.rn <= $2) d ON true
		LEFT JOIN LATERAL (SELECT count(*) AS n FROM alerts WHERE tenant_id = p.id AND resolved_at IS NULL AND p.rn <= $2) a ON true
		ORDER BY p.rn`, args
}

// likeEscape makes s match itself in a LIKE pattern (backslash is
// PostgreSQL's default escape).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.TrimSpace(s))
}
