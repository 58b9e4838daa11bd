package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrNotPortalAdmin means the account is not one of the tenant's portal
// admins.
var ErrNotPortalAdmin = errors.New("not a portal admin of this tenant")

// PortalAdmin is an Entra account allowed into a tenant's portal.
type PortalAdmin struct {
	TenantID    uuid.UUID
	ObjectID    uuid.UUID // oid in the tenant's Microsoft tenant: what sign-in matches
	MSTenantID  uuid.UUID
	UPN         string // for people to read; it can change in Entra
	DisplayName string
	AddedBy     string
	AddedAt     time.Time
}

// AddPortalAdmin makes an account a portal admin of its tenant; false when
// it already was (its row is left as it was).
func (s *Store) AddPortalAdmin(ctx context.Context, a PortalAdmin) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO portal_admins (tenant_id, object_id, ms_tenant_id, upn, display_name, added_by)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, object_id) DO NOTHING`,
		a.TenantID, a.ObjectID, a.MSTenantID, a.UPN, a.DisplayName, a.AddedBy)
	return tag.RowsAffected() == 1, wrap("add portal admin", err)
}

const portalAdminColumns = `tenant_id, object_id, ms_tenant_id, upn, display_name, added_by, added_at`

func scanPortalAdmin(row pgx.Row) (PortalAdmin, error) {
	var a PortalAdmin
	err := row.Scan(&a.TenantID, &a.ObjectID, &a.MSTenantID, &a.UPN, &a.DisplayName, &a.AddedBy, &a.AddedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotPortalAdmin
	}
	return a, err
}

// PortalAdmin reads one portal admin of a tenant by object id;
// ErrNotPortalAdmin when the account is not one.
func (s *Store) PortalAdmin(ctx context.Context, tenantID, objectID uuid.UUID) (PortalAdmin, error) {
	a, err := scanPortalAdmin(s.db.QueryRow(ctx, `SELECT `+portalAdminColumns+` FROM portal_admins
		WHERE tenant_id = $1 AND object_id = $2`, tenantID, objectID))
	return a, wrap("portal admin", err)
}

// PortalAdmins lists a tenant's portal admins, the first added first.
func (s *Store) PortalAdmins(ctx context.Context, tenantID uuid.UUID) ([]PortalAdmin, error) {
	rows, err := s.db.Query(ctx, `SELECT `+portalAdminColumns+` FROM portal_admins WHERE tenant_id = $1 ORDER BY added_at, upn`, tenantID)
	if err != nil {
		return nil, wrap("portal admins", err)
	}
	defer rows.Close()
	var out []PortalAdmin
	for rows.Next() {
		a, err := scanPortalAdmin(rows)
		if err != nil {
			return nil, wrap("portal admins", err)
		}
		out = append(out, a)
	}
	return out, wrap("portal admins", rows.Err())
}

// ErrLastPortalAdmin means removing the account would leave its tenant's
// portal with no administrator, and so no one to add one again.
var ErrLastPortalAdmin = errors.New("the last portal admin of a tenant cannot be removed")

// RemovePortalAdmin removes an account from its tenant's portal admins and
// returns its row: ErrNotPortalAdmin when it is not one, ErrLastPortalAdmin
// when it is the only one. The tenant's admin rows are locked first, so
// two admins removing each other at once cannot leave none.
func (s *Store) RemovePortalAdmin(ctx context.Context, tenantID, objectID uuid.UUID) (PortalAdmin, error) {
	var removed PortalAdmin
	err := s.InTx(ctx, func(tx Tx) error {
		rows, err := tx.db.Query(ctx, `SELECT object_id FROM portal_admins WHERE tenant_id = $1 FOR UPDATE`, tenantID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		if !slices.Contains(ids, objectID) {
			return ErrNotPortalAdmin
		}
		if len(ids) == 1 {
			return ErrLastPortalAdmin
		}
		removed, err = scanPortalAdmin(tx.db.QueryRow(ctx, `DELETE FROM portal_admins WHERE tenant_id = $1 AND object_id = $2
			RETURNING `+portalAdminColumns, tenantID, objectID))
		return err
	})
	return removed, wrap("remove portal admin", err)
}
