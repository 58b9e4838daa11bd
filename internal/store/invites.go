package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The invitation's first rows (create, use, revoke) are in tenants.go,
// beside the tenant they were made with; its binding to a person is here.

// InviteBinding is the account an invitation is bound to: the first
// administrator who signed in with it.
type InviteBinding struct {
	MSTenantID uuid.UUID
	ObjectID   uuid.UUID
	UPN        string
	BoundAt    time.Time
}

// BindInvite binds an invitation to b unless it is bound already, and
// returns the binding in force (b, or the earlier one): the caller compares
// its ObjectID with b's.
func (s *Store) BindInvite(ctx context.Context, inviteID uuid.UUID, b InviteBinding) (InviteBinding, error) {
	var got InviteBinding
	err := s.db.QueryRow(ctx, `UPDATE invites SET bound_ms_tenant_id = $2, bound_object_id = $3, bound_upn = $4,
			bound_at = coalesce(bound_at, now())
		WHERE id = $1 AND bound_object_id IS NULL
		RETURNING bound_ms_tenant_id, bound_object_id, bound_upn, bound_at`, inviteID, b.MSTenantID, b.ObjectID, b.UPN).
		Scan(&got.MSTenantID, &got.ObjectID, &got.UPN, &got.BoundAt)
	if !errors.Is(err, pgx.ErrNoRows) {
		return got, wrap("bind invite", err)
	}
	err = s.db.QueryRow(ctx, `SELECT bound_ms_tenant_id, bound_object_id, coalesce(bound_upn, ''), bound_at FROM invites WHERE id = $1`, inviteID).
		Scan(&got.MSTenantID, &got.ObjectID, &got.UPN, &got.BoundAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return got, ErrTenantNotFound
	}
	return got, wrap("bind invite", err)
}

// RevokeTenantInvites withdraws every invitation of a tenant still in
// force; it returns how many.
func (s *Store) RevokeTenantInvites(ctx context.Context, tenantID uuid.UUID) (int, error) {
	tag, err := s.db.Exec(ctx, `UPDATE invites SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL`, tenantID)
	return int(tag.RowsAffected()), wrap("revoke tenant invites", err)
}
