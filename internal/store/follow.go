package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// DirectoryFollow is where following a tenant's directory stands.
type DirectoryFollow struct {
	DeltaLink string
	SyncedAt  *time.Time
	LastError string
}

// DirectoryFollowState reads it (never followed: zero values).
func (s *Store) DirectoryFollowState(ctx context.Context, tenantID uuid.UUID) (DirectoryFollow, error) {
	var f DirectoryFollow
	var link, lastErr *string
	err := s.db.QueryRow(ctx, `SELECT delta_link, synced_at, last_error FROM directory_follow WHERE tenant_id = $1`, tenantID).
		Scan(&link, &f.SyncedAt, &lastErr)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, nil
	}
	if link != nil {
		f.DeltaLink = *link
	}
	if lastErr != nil {
		f.LastError = *lastErr
	}
	return f, wrap("directory follow state", err)
}

// RecordDirectoryFollow stores a round's outcome: its delta link, or the
// error (the previous link is kept; forget says start a full round next).
func (s *Store) RecordDirectoryFollow(ctx context.Context, tenantID uuid.UUID, deltaLink string, at time.Time, roundErr error, forget bool) error {
	if roundErr != nil {
		_, err := s.db.Exec(ctx, `INSERT INTO directory_follow (tenant_id, synced_at, last_error) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id) DO UPDATE SET synced_at = excluded.synced_at, last_error = excluded.last_error,
				delta_link = CASE WHEN $4 THEN NULL ELSE directory_follow.delta_link END`,
			tenantID, at, roundErr.Error(), forget)
		return wrap("record directory follow", err)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO directory_follow (tenant_id, delta_link, synced_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET delta_link = excluded.delta_link, synced_at = excluded.synced_at, last_error = NULL`,
		tenantID, deltaLink, at)
	return wrap("record directory follow", err)
}

// DirectoryChange is what a users delta round says of one account.
type DirectoryChange struct {
	ObjectID uuid.UUID
	Removed  bool // deleted (or soft-deleted) from the directory
	Enabled  bool
	UPN      string
}

// ApplyDirectoryChanges brings the tenant's resolved (or earlier disabled
// or deleted) users in line with the directory: a deleted account becomes
// not_found and a disabled one disabled, both losing their monitor; an
// enabled or restored one is resolved again; a new UPN is kept. Accounts
// not in the roster are ignored. It returns the rows that changed.
func (s *Store) ApplyDirectoryChanges(ctx context.Context, tenantID uuid.UUID, cs []DirectoryChange) (int64, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	ids := make([]uuid.UUID, len(cs))
	removed := make([]bool, len(cs))
	enabled := make([]bool, len(cs))
	upns := make([]string, len(cs))
	for i, c := range cs {
		ids[i], removed[i], enabled[i], upns[i] = c.ObjectID, c.Removed, c.Enabled, c.UPN
	}
	tag, err := s.db.Exec(ctx, `WITH c AS (
			SELECT id, CASE WHEN removed THEN 'not_found' WHEN NOT enabled THEN 'disabled' ELSE 'resolved' END AS status,
				CASE WHEN removed THEN 'deleted from the directory' WHEN NOT enabled THEN 'account disabled in the directory' END AS why,
				nullif(upn, '') AS upn
			FROM unnest($2::uuid[], $3::bool[], $4::bool[], $5::text[]) AS x (id, removed, enabled, upn))
		UPDATE directory_users d SET resolution_status = c.status, resolution_error = c.why,
			graph_upn = coalesce(c.upn, d.graph_upn),
			monitor_id = CASE WHEN c.status = 'resolved' THEN d.monitor_id END, updated_at = now()
		FROM c WHERE d.tenant_id = $1 AND d.object_id = c.id AND d.resolution_status IN ('resolved', 'disabled', 'not_found')
		AND (d.resolution_status <> c.status OR coalesce(c.upn, d.graph_upn) IS DISTINCT FROM d.graph_upn)`,
		tenantID, ids, removed, enabled, upns)
	return tag.RowsAffected(), wrap("apply directory changes", err)
}
