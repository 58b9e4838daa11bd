package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Presence as the API reads it: the roster's users (those with a Graph
// object id) with the presence stored for each, one user, many by id, or
// the whole tenant a page at a time in object id order (both tables are
// keyed by (tenant_id, object id), so a page is two ordered index scans
// merged, however large the tenant).

// UserPresence is a roster user and their stored presence. Known is false
// while none has been seen; HeldUntil is set while a change that leaves
// "talking" is held back (the tenant's debounce): the row already shows it,
// the platform gets it then (Sequence is the last it was sent).
type UserPresence struct {
	ObjectID     uuid.UUID
	UPN          string
	ExternalID   string
	Known        bool
	Availability string
	Activity     string
	MappedState  string
	Sequence     int64
	ObservedAt   *time.Time
	HeldUntil    *time.Time
}

const userPresenceFrom = `SELECT d.object_id, d.upn, coalesce(d.external_id, ''), p.user_object_id IS NOT NULL,
		coalesce(p.availability, ''), coalesce(p.activity, ''), coalesce(p.mapped_state, ''), coalesce(p.sequence, 0),
		p.observed_at, p.held_until
	FROM directory_users d
	LEFT JOIN presence p ON p.tenant_id = d.tenant_id AND p.user_object_id = d.object_id`

func scanUserPresence(r pgx.CollectableRow) (UserPresence, error) {
	var u UserPresence
	return u, r.Scan(&u.ObjectID, &u.UPN, &u.ExternalID, &u.Known, &u.Availability, &u.Activity, &u.MappedState, &u.Sequence,
		&u.ObservedAt, &u.HeldUntil)
}

// PresencePage lists up to limit of the tenant's users after the object id
// after (uuid.Nil: from the start), in object id order, with their presence.
// The page's users are read first, then their presence rows as one range
// of the presence key, from after to the page's last user: two ordered
// index ranges instead of a key lookup per user (a third of the buffers a
// nested loop touches).
func (s *Store) PresencePage(ctx context.Context, tenantID, after uuid.UUID, limit int) ([]UserPresence, error) {
	rows, err := s.db.Query(ctx, `WITH d AS MATERIALIZED (
			SELECT object_id, upn, external_id FROM directory_users
			WHERE tenant_id = $1 AND object_id > $2 ORDER BY object_id LIMIT $3
		), p AS (
			SELECT user_object_id, availability, activity, mapped_state, sequence, observed_at, held_until FROM presence
			WHERE tenant_id = $1 AND user_object_id > $2 AND user_object_id <= (SELECT object_id FROM d ORDER BY object_id DESC LIMIT 1)
		)
		SELECT d.object_id, d.upn, coalesce(d.external_id, ''), p.user_object_id IS NOT NULL,
			coalesce(p.availability, ''), coalesce(p.activity, ''), coalesce(p.mapped_state, ''), coalesce(p.sequence, 0),
			p.observed_at, p.held_until
		FROM d LEFT JOIN p ON p.user_object_id = d.object_id ORDER BY d.object_id`, tenantID, after, limit)
	if err != nil {
		return nil, wrap("presence page", err)
	}
	v, err := pgx.CollectRows(rows, scanUserPresence)
	return v, wrap("presence page", err)
}

// PresencesOf reads the users with these object ids that are on the
// tenant's roster, in object id order; ids not on it are left out.
func (s *Store) PresencesOf(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) ([]UserPresence, error) {
	rows, err := s.db.Query(ctx, userPresenceFrom+`
		WHERE d.tenant_id = $1 AND d.object_id = ANY ($2) ORDER BY d.object_id`, tenantID, ids)
	if err != nil {
		return nil, wrap("presences of", err)
	}
	v, err := pgx.CollectRows(rows, scanUserPresence)
	return v, wrap("presences of", err)
}

// FindUserPresence reads the presence of the roster user with Graph object
// id ref or, when none has it, the one entered as UPN ref (as
// FindDirectoryUser); ErrUserNotFound when neither is on the roster with
// an object id.
func (s *Store) FindUserPresence(ctx context.Context, tenantID uuid.UUID, ref string) (UserPresence, error) {
	var oid *uuid.UUID
	if id, err := uuid.Parse(ref); err == nil {
		oid = &id
	}
	rows, err := s.db.Query(ctx, byRef(userPresenceFrom, "d.object_id IS NOT NULL"), tenantID, oid, ref)
	if err != nil {
		return UserPresence{}, wrap("find user presence", err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUserPresence)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrUserNotFound
	}
	return u, wrap("find user presence", err)
}
