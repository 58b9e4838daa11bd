package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Reads of a tenant's health at a glance (the tenant pages' Home, the
// tenant API's GET /tenant): each a count or a short list done here in
// SQL, so that what they cost does not grow with the roster's size beyond
// one index-only pass over it, nor with the tenant's history.

// TenantWithHealth reads a tenant and its status (without user counts:
// RosterCounts has them) from its one row.
func (s *Store) TenantWithHealth(ctx context.Context, id uuid.UUID) (Tenant, TenantStatus, error) {
	var t Tenant
	ts := TenantStatus{TenantID: id}
	err := s.db.QueryRow(ctx, `SELECT `+tenantColumns+`, health, coalesce(health_condition, ''), coalesce(health_reason, ''), health_changed_at
		FROM tenants WHERE id = $1`, id).Scan(append(tenantFields(&t), &ts.Health, &ts.Condition, &ts.Reason, &ts.HealthChangedAt)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ts, ErrTenantNotFound
	}
	if err != nil {
		return t, ts, wrap("tenant with health", err)
	}
	ts.Lifecycle, ts.Status = t.Status, t.Status
	if t.Status == TenantActive && ts.Health == HealthDegraded {
		ts.Status = TenantDegraded
	}
	return t, ts, nil
}

// RosterCounts is a tenant's roster counted by resolution status (only
// the statuses it has), split as UserCounts splits it, and by monitor.
type RosterCounts struct {
	ByStatus map[string]int
	Users    UserCounts
	// Loads are the resolved users assigned to each monitor, whatever its
	// status (MonitorLoads).
	Loads map[uuid.UUID]int
}

// RosterCounts counts a tenant's roster in one pass: its entries are
// grouped by status and monitor, and only the groups, one per monitor, are
// joined with the monitors to tell which are authorized. (The grouping
// reads the tenant's rows: monitor_id is in no index, so that placing a
// user writes none — migration 000056; the Home page of 100,000 users
// takes 49 ms with it, BenchmarkHomePage.)
func (s *Store) RosterCounts(ctx context.Context, tenantID uuid.UUID) (RosterCounts, error) {
	rows, err := s.db.Query(ctx, `SELECT g.resolution_status, g.monitor_id, m.id IS NOT NULL, g.n
		FROM (SELECT resolution_status, monitor_id, count(*) AS n FROM directory_users WHERE tenant_id = $1 GROUP BY 1, 2) g
		LEFT JOIN monitors m ON m.id = g.monitor_id AND m.status = 'authorized' AND m.removed_at IS NULL`, tenantID)
	if err != nil {
		return RosterCounts{}, wrap("roster counts", err)
	}
	c := RosterCounts{ByStatus: map[string]int{}, Loads: map[uuid.UUID]int{}}
	var status string
	var monitor *uuid.UUID
	var authorized bool
	var n int
	_, err = pgx.ForEachRow(rows, []any{&status, &monitor, &authorized, &n}, func() error {
		c.ByStatus[status] += n
		u := &c.Users
		u.Total += n
		switch {
		case status == UserResolved && authorized:
			u.Monitored += n
		case status == UserResolved:
			u.Unmonitored += n
		case status == UserPending:
			u.Pending += n
		default: // not found, disabled, duplicate
			u.Unresolved += n
		}
		if status == UserResolved && monitor != nil {
			c.Loads[*monitor] += n
		}
		return nil
	})
	return c, wrap("roster counts", err)
}

// RosterProblems lists the first limit entries of a tenant's roster that
// are not resolved (not found, disabled, duplicates, or not looked up
// yet), in entry order. Each kind is read along its partial index, limit
// rows at most, so the read stays short however many there are.
func (s *Store) RosterProblems(ctx context.Context, tenantID uuid.UUID, limit int) ([]DirectoryUser, error) {
	rows, err := s.db.Query(ctx, directoryUsersFrom+`
		WHERE d.tenant_id = $1 AND d.id IN (
			(SELECT id FROM directory_users WHERE tenant_id = $1 AND resolution_status IN ('not_found', 'disabled', 'duplicate') ORDER BY seq LIMIT $2)
			UNION ALL
			(SELECT id FROM directory_users WHERE tenant_id = $1 AND resolution_status = 'pending' ORDER BY seq LIMIT $2))
		ORDER BY d.seq LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, wrap("roster problems", err)
	}
	v, err := pgx.CollectRows(rows, scanDirectoryUser)
	return v, wrap("roster problems", err)
}

// MonitorCounts counts a tenant's monitors by status (only the statuses
// it has); monitors being removed are not counted.
func (s *Store) MonitorCounts(ctx context.Context, tenantID uuid.UUID) (map[string]int, error) {
	rows, err := s.db.Query(ctx, `SELECT status, count(*) FROM monitors WHERE tenant_id = $1 AND removed_at IS NULL GROUP BY status`, tenantID)
	if err != nil {
		return nil, wrap("monitor counts", err)
	}
	out := map[string]int{}
	var status string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		out[status] = n
		return nil
	})
	return out, wrap("monitor counts", err)
}

// OpenAlerts lists a tenant's open alerts, newest first: one per
// condition (alerts_open_idx), however long the tenant's history of
// resolved ones.
func (s *Store) OpenAlerts(ctx context.Context, tenantID uuid.UUID) ([]Alert, error) {
	rows, err := s.db.Query(ctx, `SELECT id, tenant_id, kind, subject, message, detail, raised_at, resolved_at FROM alerts
		WHERE tenant_id = $1 AND resolved_at IS NULL ORDER BY raised_at DESC, id DESC`, tenantID)
	if err != nil {
		return nil, wrap("open alerts", err)
	}
	v, err := pgx.CollectRows(rows, scanAlert)
	return v, wrap("open alerts", err)
}
