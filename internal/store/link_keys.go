package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Links handed out (internal/links) name the seal key they were made
// under; these rows record it, so that `keys rotate` keeps the keys live
// links need (migration 000041).

// RecordInviteKey records the seal key an invitation's link was made
// under.
func (s *Store) RecordInviteKey(ctx context.Context, inviteID uuid.UUID, keyID string) error {
	_, err := s.db.Exec(ctx, `UPDATE invites SET key_id = $2 WHERE id = $1`, inviteID, keyID)
	return wrap("record invite key", err)
}

// RecordMonitorLink records the seal key and expiry of the monitor's Copy
// URL, the one link of it that works (ResetMonitorLink withdrew the
// earlier ones).
func (s *Store) RecordMonitorLink(ctx context.Context, tenantID, monitorID uuid.UUID, keyID string, expires time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE monitors SET link_key_id = $3, link_expires_at = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, monitorID, keyID, expires)
	return wrap("record monitor link", err)
}

// LinkKeyUse is what the live links made under one seal key need of it:
// the key must stay in the ring until Until, when the last expires. KeyID
// "" stands for links made before their key was recorded, which may be
// under any key.
type LinkKeyUse struct {
	KeyID        string
	Invites      int
	MonitorLinks int
	Until        time.Time
}

// LiveLinkKeys lists, by key, the links that work now: invitations neither
// revoked nor expired, and Copy URLs not expired (nor withdrawn: a new
// link, Retry or a sign-in clears them).
func (s *Store) LiveLinkKeys(ctx context.Context) ([]LinkKeyUse, error) {
	rows, err := s.db.Query(ctx, `SELECT coalesce(key_id, ''), sum(invites)::int, sum(monitor_links)::int, max(until) FROM (
			SELECT key_id, 1 AS invites, 0 AS monitor_links, expires_at AS until FROM invites
			WHERE revoked_at IS NULL AND expires_at > now()
			UNION ALL
			SELECT link_key_id, 0, 1, link_expires_at FROM monitors WHERE link_expires_at > now()
		) live GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return nil, wrap("live link keys", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (LinkKeyUse, error) {
		var u LinkKeyUse
		return u, row.Scan(&u.KeyID, &u.Invites, &u.MonitorLinks, &u.Until)
	})
	return out, wrap("live link keys", err)
}
