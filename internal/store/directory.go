package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Directory users: the roster's rows (directory_users) and the tenant's
// roster source (roster_sources). ResolvedRoster and AssignUsers in
// roster.go are the engine's view of the same rows.

// Resolution statuses of a directory user.
const (
	UserPending   = "pending"
	UserResolved  = "resolved"
	UserNotFound  = "not_found"
	UserDisabled  = "disabled"
	UserDuplicate = "duplicate"
)

// Roster sources of a row and of a tenant.
const (
	SourceList  = "list"
	SourceCSV   = "csv"
	SourceGroup = "group"
)

// DirectoryEntry is a user to monitor as entered: a UPN or mail address,
// and optionally the telephony platform's id for that user.
type DirectoryEntry struct {
	UPN        string
	ExternalID string
}

// DirectoryUser is a roster row as shown to people.
type DirectoryUser struct {
	ID          uuid.UUID
	UPN         string // as entered
	GraphUPN    string // as Graph answered, once resolved
	Email       string
	DisplayName string
	ObjectID    *uuid.UUID
	ExternalID  string
	MonitorID   *uuid.UUID
	Source      string
	Status      string
	Error       string
	DuplicateOf *uuid.UUID
	// Monitored: resolved and assigned to an authorized monitor (as
	// UserCountsOf counts it).
	Monitored bool
	UpdatedAt time.Time
}

// UpsertResult counts what an upsert did: entries added, rows changed
// (another external id, or a failed resolution to try again) and rows
// that already said what the entry says.
type UpsertResult struct {
	Added, Updated, Unchanged int
}

// UpsertDirectoryUsers adds entries as pending rows from source, or updates
// the rows already there (matched by UPN, case-insensitively). An entry
// without an external id keeps the row's; a row that had failed to resolve
// is tried again; a resolved row stays resolved. A row the entry would not
// change is not written (its updated_at stays), so that a platform sending
// its whole list again and again costs no writes.
func (s *Store) UpsertDirectoryUsers(ctx context.Context, tenantID uuid.UUID, source string, entries []DirectoryEntry) (UpsertResult, error) {
	if len(entries) == 0 {
		return UpsertResult{}, nil
	}
	upns, ext := make([]string, len(entries)), make([]*string, len(entries))
	for i, e := range entries {
		upns[i] = e.UPN
		if e.ExternalID != "" {
			ext[i] = &e.ExternalID
		}
	}
	// ORDER BY ord gives the rows seq numbers in entry order. (xmax = 0)
	// tells an insert from an update.
	rows, err := s.db.Query(ctx, `INSERT INTO directory_users (tenant_id, upn, external_id, source)
		SELECT $1, e.upn, e.ext, $4 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS e (upn, ext, ord) ORDER BY e.ord
		ON CONFLICT (tenant_id, lower(upn)) DO UPDATE SET
			external_id = coalesce(excluded.external_id, directory_users.external_id),
			resolution_status = CASE WHEN directory_users.resolution_status = 'resolved' THEN 'resolved' ELSE 'pending' END,
			resolution_error = CASE WHEN directory_users.resolution_status = 'resolved' THEN NULL ELSE directory_users.resolution_error END,
			duplicate_of = CASE WHEN directory_users.resolution_status = 'resolved' THEN NULL ELSE directory_users.duplicate_of END,
			updated_at = now()
		WHERE directory_users.resolution_status NOT IN ('resolved', 'pending')
			OR excluded.external_id IS NOT NULL AND excluded.external_id IS DISTINCT FROM directory_users.external_id
		RETURNING (xmax = 0)`, tenantID, upns, ext, source)
	if err != nil {
		return UpsertResult{}, fmt.Errorf("upsert directory users: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return UpsertResult{}, fmt.Errorf("upsert directory users: %w", err)
	}
	var res UpsertResult
	for _, ins := range inserted {
		if ins {
			res.Added++
		} else {
			res.Updated++
		}
	}
	res.Unchanged = len(entries) - res.Added - res.Updated
	return res, nil
}

// RemoveDirectoryUsers deletes the rows with these UPNs (as entered,
// case-insensitively) and returns how many went.
func (s *Store) RemoveDirectoryUsers(ctx context.Context, tenantID uuid.UUID, upns []string) (int, error) {
	v, err := s.removeWhere(ctx, `tenant_id = $1 AND lower(upn) = ANY (SELECT lower(x) FROM unnest($2::text[]) AS x)`, tenantID, upns)
	return v, wrap("remove directory users", err)
}

// RemoveDirectoryUsersExcept deletes the tenant's rows whose UPN is not in
// keep: what replacing the list with a new one removes. NOT EXISTS, not
// "<> ALL (…)": PostgreSQL plans it as a hash anti-join, where "<> ALL"
// over a list too large for work_mem compares every row with every entry
// (a 100,000-user CSV took minutes).
func (s *Store) RemoveDirectoryUsersExcept(ctx context.Context, tenantID uuid.UUID, keep []string) (int, error) {
	v, err := s.removeWhere(ctx, `tenant_id = $1 AND NOT EXISTS (SELECT FROM unnest($2::text[]) AS k(upn) WHERE lower(k.upn) = lower(directory_users.upn))`,
		tenantID, keep)
	return v, wrap("remove directory users except", err)
}

// RemoveDirectoryUsersByObjectID deletes the rows of these Graph users.
func (s *Store) RemoveDirectoryUsersByObjectID(ctx context.Context, tenantID uuid.UUID, objectIDs []uuid.UUID) (int, error) {
	v, err := s.removeWhere(ctx, `tenant_id = $1 AND object_id = ANY ($2::uuid[])`, tenantID, objectIDs)
	return v, wrap("remove directory users by object id", err)
}

// removeWhere deletes rows and, in the same statement, sends their
// duplicates back to pending: the user they named is no longer the
// roster's, so one of them becomes the user's row at the next resolution.
func (s *Store) removeWhere(ctx context.Context, where string, args ...any) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `WITH gone AS (DELETE FROM directory_users WHERE `+where+` RETURNING id),
		again AS (UPDATE directory_users SET resolution_status = 'pending', resolution_error = NULL, duplicate_of = NULL, updated_at = now()
			WHERE tenant_id = $1 AND duplicate_of IN (SELECT id FROM gone))
		SELECT count(*) FROM gone`, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("remove directory users: %w", err)
	}
	return n, nil
}

// PendingUser is a row waiting for resolution: Lookup is what to ask
// Graph for (the UPN or mail address entered, or a group member's id).
type PendingUser struct {
	ID     uuid.UUID
	Lookup string
	Seq    int64
}

// PendingDirectoryUsers lists up to limit pending rows after seq, in entry
// order, so that a resolution run visits each row once.
func (s *Store) PendingDirectoryUsers(ctx context.Context, tenantID uuid.UUID, after int64, limit int) ([]PendingUser, error) {
	rows, err := s.db.Query(ctx, `SELECT id, upn, seq FROM directory_users
		WHERE tenant_id = $1 AND resolution_status = 'pending' AND seq > $2 ORDER BY seq LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("pending directory users: %w", err)
	}
	v, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingUser, error) {
		var p PendingUser
		return p, r.Scan(&p.ID, &p.Lookup, &p.Seq)
	})
	return v, wrap("pending directory users", err)
}

// ObjectHolder is the row that holds a Graph object id.
type ObjectHolder struct {
	ID  uuid.UUID
	UPN string
}

// ObjectHolders finds which rows already hold these object ids, to tell a
// duplicate from a first resolution.
func (s *Store) ObjectHolders(ctx context.Context, tenantID uuid.UUID, objectIDs []uuid.UUID) (map[uuid.UUID]ObjectHolder, error) {
	rows, err := s.db.Query(ctx, `SELECT object_id, id, upn FROM directory_users WHERE tenant_id = $1 AND object_id = ANY ($2::uuid[])`,
		tenantID, objectIDs)
	if err != nil {
		return nil, fmt.Errorf("object holders: %w", err)
	}
	out := map[uuid.UUID]ObjectHolder{}
	var oid uuid.UUID
	var h ObjectHolder
	_, err = pgx.ForEachRow(rows, []any{&oid, &h.ID, &h.UPN}, func() error {
		out[oid] = h
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("object holders: %w", err)
	}
	return out, nil
}

// Resolution is the outcome of resolving one row. ObjectID is set for
// resolved and disabled users (never for a duplicate: the user's row
// holds it); Error explains every other outcome, and a pending row's
// transient failure.
type Resolution struct {
	ID          uuid.UUID
	Status      string
	ObjectID    *uuid.UUID
	GraphUPN    string
	Email       string
	DisplayName string
	Error       string
	DuplicateOf *uuid.UUID
}

// RecordResolutions writes outcomes in one statement. Only the name
// columns Graph answered are overwritten; a row found not to be monitored
// (not found, duplicate) loses any object id and monitor it had, a pending
// one keeps its object id (a group member's lookup key).
func (s *Store) RecordResolutions(ctx context.Context, tenantID uuid.UUID, rs []Resolution) error {
	if len(rs) == 0 {
		return nil
	}
	n := len(rs)
	ids, statuses, oids := make([]uuid.UUID, n), make([]string, n), make([]*uuid.UUID, n)
	upns, mails, names, errs := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	dups := make([]*uuid.UUID, n)
	for i, r := range rs {
		ids[i], statuses[i], oids[i], dups[i] = r.ID, r.Status, r.ObjectID, r.DuplicateOf
		upns[i], mails[i], names[i], errs[i] = nonEmpty(r.GraphUPN), nonEmpty(r.Email), nonEmpty(r.DisplayName), nonEmpty(r.Error)
	}
	_, err := s.db.Exec(ctx, `UPDATE directory_users d SET
			resolution_status = r.status,
			object_id = CASE WHEN r.status = 'pending' THEN d.object_id ELSE r.oid END,
			graph_upn = coalesce(r.upn, d.graph_upn),
			email = coalesce(r.mail, d.email),
			display_name = coalesce(r.name, d.display_name),
			resolution_error = r.err,
			duplicate_of = r.dup,
			monitor_id = CASE WHEN r.status = 'resolved' THEN d.monitor_id END,
			updated_at = now()
		FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[])
			AS r (id, status, oid, upn, mail, name, err, dup)
		WHERE d.tenant_id = $1 AND d.id = r.id`, tenantID, ids, statuses, oids, upns, mails, names, errs, dups)
	if err != nil {
		return fmt.Errorf("record resolutions: %w", err)
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// directoryUsersFrom selects DirectoryUser rows (d) with whether each is
// monitored: its monitor (m) is authorized and not being removed.
const directoryUsersFrom = `SELECT d.id, d.upn, coalesce(d.graph_upn, ''), coalesce(d.email, ''), coalesce(d.display_name, ''), d.object_id,
		coalesce(d.external_id, ''), d.monitor_id, d.source, d.resolution_status, coalesce(d.resolution_error, ''), d.duplicate_of,
		d.resolution_status = 'resolved' AND m.id IS NOT NULL, d.updated_at
	FROM directory_users d
	LEFT JOIN monitors m ON m.id = d.monitor_id AND m.status = 'authorized' AND m.removed_at IS NULL`

func scanDirectoryUser(r pgx.CollectableRow) (DirectoryUser, error) {
	var u DirectoryUser
	return u, r.Scan(&u.ID, &u.UPN, &u.GraphUPN, &u.Email, &u.DisplayName, &u.ObjectID, &u.ExternalID, &u.MonitorID,
		&u.Source, &u.Status, &u.Error, &u.DuplicateOf, &u.Monitored, &u.UpdatedAt)
}

// DirectoryUsers lists a tenant's roster in entry order; with onlyProblems,
// just the rows that are not resolved.
func (s *Store) DirectoryUsers(ctx context.Context, tenantID uuid.UUID, onlyProblems bool) ([]DirectoryUser, error) {
	rows, err := s.db.Query(ctx, directoryUsersFrom+`
		WHERE d.tenant_id = $1 AND (NOT $2 OR d.resolution_status <> 'resolved') ORDER BY d.seq`, tenantID, onlyProblems)
	if err != nil {
		return nil, fmt.Errorf("directory users: %w", err)
	}
	v, err := pgx.CollectRows(rows, scanDirectoryUser)
	return v, wrap("directory users", err)
}

// GroupMember is a user of a roster group, as far as Graph has told: a
// member whose lookup failed for now is Pending, with its id as lookup.
type GroupMember struct {
	ObjectID    uuid.UUID
	UPN         string
	Email       string
	DisplayName string
	Status      string // resolved, disabled or pending
	Error       string
}

// UpsertGroupMembers adds group members as rows of source group, or
// refreshes the rows already holding their object ids. External ids are
// kept. A member without a UPN yet is entered under its object id.
func (s *Store) UpsertGroupMembers(ctx context.Context, tenantID uuid.UUID, members []GroupMember) error {
	if len(members) == 0 {
		return nil
	}
	n := len(members)
	oids, upns, statuses := make([]uuid.UUID, n), make([]string, n), make([]string, n)
	mails, names, errs := make([]*string, n), make([]*string, n), make([]*string, n)
	for i, m := range members {
		oids[i], upns[i], statuses[i] = m.ObjectID, m.UPN, m.Status
		if upns[i] == "" {
			upns[i] = m.ObjectID.String()
		}
		mails[i], names[i], errs[i] = nonEmpty(m.Email), nonEmpty(m.DisplayName), nonEmpty(m.Error)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO directory_users (tenant_id, object_id, upn, graph_upn, email, display_name,
			resolution_status, resolution_error, source)
		SELECT $1, m.oid, m.upn, CASE WHEN m.status <> 'pending' THEN m.upn END, m.mail, m.name, m.status, m.err, 'group'
		FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
			AS m (oid, upn, status, mail, name, err, ord) ORDER BY m.ord
		ON CONFLICT (tenant_id, object_id) DO UPDATE SET
			graph_upn = coalesce(excluded.graph_upn, directory_users.graph_upn),
			email = coalesce(excluded.email, directory_users.email),
			display_name = coalesce(excluded.display_name, directory_users.display_name),
			resolution_status = CASE WHEN excluded.resolution_status = 'pending' THEN directory_users.resolution_status
				ELSE excluded.resolution_status END,
			resolution_error = excluded.resolution_error,
			updated_at = now()`, tenantID, oids, upns, statuses, mails, names, errs)
	if err != nil {
		return fmt.Errorf("upsert group members: %w", err)
	}
	return nil
}

// ReplaceWithGroupMembers makes members the tenant's whole roster: rows of
// anyone else go (with their monitor assignments), then members are
// upserted.
func (s *Store) ReplaceWithGroupMembers(ctx context.Context, tenantID uuid.UUID, members []GroupMember) (removed int, err error) {
	keep := make([]uuid.UUID, len(members))
	for i, m := range members {
		keep[i] = m.ObjectID
	}
	removed, err = s.removeWhere(ctx, `tenant_id = $1 AND (object_id IS NULL OR object_id <> ALL ($2::uuid[]))`, tenantID, keep)
	if err != nil {
		return 0, wrap("replace with group members", err)
	}
	return removed, s.UpsertGroupMembers(ctx, tenantID, members)
}

// RosterSource is where a tenant's roster comes from.
type RosterSource struct {
	Kind          string // list or group
	GroupID       *uuid.UUID
	DeltaLink     string
	Nested        bool
	LastSyncAt    *time.Time
	LastSyncError string
}

// TenantRosterSource reads the tenant's roster source; a tenant that never
// chose has a list.
func (s *Store) TenantRosterSource(ctx context.Context, tenantID uuid.UUID) (RosterSource, error) {
	var rs RosterSource
	err := s.db.QueryRow(ctx, `SELECT kind, group_id, coalesce(delta_link, ''), nested, last_sync_at, coalesce(last_sync_error, '')
		FROM roster_sources WHERE tenant_id = $1`, tenantID).
		Scan(&rs.Kind, &rs.GroupID, &rs.DeltaLink, &rs.Nested, &rs.LastSyncAt, &rs.LastSyncError)
	if errors.Is(err, pgx.ErrNoRows) {
		return RosterSource{Kind: SourceList}, nil
	}
	if err != nil {
		return rs, fmt.Errorf("roster source: %w", err)
	}
	return rs, nil
}

// SetRosterSource chooses a list (groupID nil) or a group; any delta link
// of an earlier choice is dropped, so a group is first read in full.
func (s *Store) SetRosterSource(ctx context.Context, tenantID uuid.UUID, groupID *uuid.UUID) error {
	kind := SourceList
	if groupID != nil {
		kind = SourceGroup
	}
	_, err := s.db.Exec(ctx, `INSERT INTO roster_sources (tenant_id, kind, group_id) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET kind = excluded.kind, group_id = excluded.group_id, delta_link = NULL,
			nested = false, last_sync_at = NULL, last_sync_error = NULL, updated_at = now()`, tenantID, kind, groupID)
	if err != nil {
		return fmt.Errorf("set roster source: %w", err)
	}
	return nil
}

// RecordGroupSync stores a sync's outcome: on success the new delta link
// (empty: read in full next time) and whether the group nests groups; on
// failure only the error, keeping the link to retry from.
func (s *Store) RecordGroupSync(ctx context.Context, tenantID uuid.UUID, deltaLink string, nested bool, syncErr error) error {
	var err error
	if syncErr != nil {
		_, err = s.db.Exec(ctx, `UPDATE roster_sources SET last_sync_at = now(), last_sync_error = $2, updated_at = now()
			WHERE tenant_id = $1`, tenantID, syncErr.Error())
	} else {
		_, err = s.db.Exec(ctx, `UPDATE roster_sources SET delta_link = $2, nested = $3, last_sync_at = now(), last_sync_error = NULL,
			updated_at = now() WHERE tenant_id = $1`, tenantID, nonEmpty(deltaLink), nested)
	}
	if err != nil {
		return fmt.Errorf("record group sync: %w", err)
	}
	return nil
}

// LockRoster serialises roster changes of a tenant until tx ends (two
// resolvers must not give one object id to two rows).
func (s Tx) LockRoster(ctx context.Context, tenantID uuid.UUID) error {
	_, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('roster:' || $1::text, 0))`, tenantID)
	if err != nil {
		return fmt.Errorf("lock roster: %w", err)
	}
	return nil
}
