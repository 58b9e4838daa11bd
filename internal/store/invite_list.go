package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Invitations as support lists and withdraws them (the console's
// Invitations page).

// InviteRow is an invitation with its tenant.
type InviteRow struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	TenantName string
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
	BoundUPN   string // the administrator who first signed in with it
	// Done: the tenant's onboarding is complete (or the tenant suspended
	// or deleted), so the link opens nothing.
	Done bool
}

// InviteCursor is the last invitation of a page.
type InviteCursor struct {
	CreatedAt time.Time `json:"c"`
	ID        uuid.UUID `json:"i"`
}

// InviteListQuery picks a page of invitations, newest first.
type InviteListQuery struct {
	// InForce keeps the invitations whose link still works: not revoked,
	// not expired at Now, their onboarding not complete.
	InForce bool
	Now     time.Time
	After   *InviteCursor
	Limit   int
}

// InviteList reads a page of invitations, newest first; more reports
// whether older ones follow.
func (s *Store) InviteList(ctx context.Context, q InviteListQuery) (page []InviteRow, more bool, err error) {
	var afterAt *time.Time
	var afterID *uuid.UUID
	if q.After != nil {
		afterAt, afterID = &q.After.CreatedAt, &q.After.ID
	}
	rows, err := s.db.Query(ctx, `SELECT i.id, i.tenant_id, t.name, i.created_by, i.created_at, i.expires_at, i.revoked_at, i.last_used_at,
			coalesce(i.bound_upn, ''), o.completed_at IS NOT NULL OR t.status <> 'onboarding' AS done
		FROM invites i JOIN tenants t ON t.id = i.tenant_id LEFT JOIN onboarding o ON o.tenant_id = i.tenant_id
		WHERE (NOT $1 OR (i.revoked_at IS NULL AND i.expires_at > $2 AND o.completed_at IS NULL AND t.status = 'onboarding'))
		  AND ($3::timestamptz IS NULL OR (i.created_at, i.id) < ($3, $4))
		ORDER BY i.created_at DESC, i.id DESC LIMIT $5`, q.InForce, q.Now, afterAt, afterID, q.Limit+1)
	if err != nil {
		return nil, false, wrap("invite list", err)
	}
	page, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (InviteRow, error) {
		var x InviteRow
		return x, r.Scan(&x.ID, &x.TenantID, &x.TenantName, &x.CreatedBy, &x.CreatedAt, &x.ExpiresAt, &x.RevokedAt, &x.LastUsedAt,
			&x.BoundUPN, &x.Done)
	})
	if err != nil {
		return nil, false, wrap("invite list", err)
	}
	if len(page) > q.Limit {
		return page[:q.Limit], true, nil
	}
	return page, false, nil
}

// WithdrawInvite stops one invitation working; withdrawn is false when it
// was already. ErrTenantNotFound: no such invitation.
func (s *Store) WithdrawInvite(ctx context.Context, id uuid.UUID) (tenantID uuid.UUID, withdrawn bool, err error) {
	err = s.db.QueryRow(ctx, `UPDATE invites n SET revoked_at = coalesce(o.revoked_at, now()) FROM invites o
		WHERE n.id = $1 AND o.id = n.id RETURNING n.tenant_id, o.revoked_at IS NULL`, id).Scan(&tenantID, &withdrawn)
	if errors.Is(err, pgx.ErrNoRows) {
		return tenantID, false, ErrTenantNotFound
	}
	return tenantID, withdrawn, wrap("withdraw invite", err)
}
