package store

import (
	"bytes"
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"presencebridge/internal/presence"
)

// Presence as the API reads it: the roster's users (those with a Graph
// object id) with the presence stored for each, one user, many by id, or
// the whole tenant a page at a time in object id order. A snapshot of a
// large tenant reads a hundred such pages in a row, so a page is read
// lean: the users and their presence rows as two ranges of their
// (tenant_id, object id) keys, merged here, and the values few and
// repeated (availability, activity, state) shared rather than allocated
// per row.

// UserPresence is a roster user and their stored presence, the rich
// presence too. Known is false while none has been seen (ObservedAt is
// then zero); HeldUntil is set
// while a change that leaves "talking" is held back (the tenant's
// debounce): the row already shows it, the platform gets it then
// (Sequence is the last it was sent).
type UserPresence struct {
	ObjectID     uuid.UUID
	UPN          string
	ExternalID   string
	Known        bool
	Availability string
	Activity     string
	MappedState  string
	Sequence     int64
	ObservedAt   time.Time
	HeldUntil    time.Time
	presence.Rich
}

// presenceColumns are the presence row's columns a UserPresence holds, in
// the order scanPresence reads them.
const presenceColumns = `p.availability, p.activity, p.mapped_state, p.sequence, p.observed_at, p.held_until,
	p.status_message, p.out_of_office, p.work_location`

const userPresenceFrom = `SELECT d.object_id, d.upn, coalesce(d.external_id, ''), p.user_object_id IS NOT NULL, ` + presenceColumns + `
	FROM directory_users d
	LEFT JOIN presence p ON p.tenant_id = d.tenant_id AND p.user_object_id = d.object_id`

// presenceScanner reads rows that end with presenceColumns (NULL where
// the user has no presence row), sharing one string for each availability,
// activity and state it meets; the columns before go to lead.
type presenceScanner struct {
	words      map[string]string
	first      int
	dest       []any
	seq        pgtype.Int8
	seen, held pgtype.Timestamptz
	rich       presence.Rich
}

func newPresenceScanner(lead ...any) *presenceScanner {
	ps := &presenceScanner{words: map[string]string{}, first: len(lead)}
	// nil skips a column: the three words are read raw, see scan.
	ps.dest = append(append(lead, nil, nil, nil, &ps.seq, &ps.seen, &ps.held), richFields(&ps.rich)...)
	return ps
}

// word is b as a string, shared with every other row that has it.
func (ps *presenceScanner) word(b []byte) string {
	if w, ok := ps.words[string(b)]; ok {
		return w
	}
	w := string(b)
	ps.words[w] = w
	return w
}

// scan reads the row: lead's columns, and the presence into u (left
// unknown without a presence row).
func (ps *presenceScanner) scan(rows pgx.Rows, u *UserPresence) error {
	ps.rich = presence.Rich{} // each row's rich presence is its own
	if err := rows.Scan(ps.dest...); err != nil {
		return err
	}
	raw := rows.RawValues()[ps.first:]
	if raw[0] == nil {
		return nil
	}
	u.Known = true
	u.Availability, u.Activity, u.MappedState = ps.word(raw[0]), ps.word(raw[1]), ps.word(raw[2])
	u.Sequence, u.ObservedAt, u.HeldUntil, u.Rich = ps.seq.Int64, ps.seen.Time, time.Time{}, ps.rich
	if ps.held.Valid {
		u.HeldUntil = ps.held.Time
	}
	return nil
}

// uuidBytes scans a uuid as its 16 bytes: as a uuid.UUID (an
// sql.Scanner) pgx would format it as text and parse it back.
func uuidBytes(id *uuid.UUID) *[16]byte { return (*[16]byte)(id) }

// userPresences reads rows of userPresenceFrom.
func userPresences(rows pgx.Rows) ([]UserPresence, error) {
	defer rows.Close()
	var cur UserPresence
	var known bool
	ps := newPresenceScanner(uuidBytes(&cur.ObjectID), &cur.UPN, &cur.ExternalID, &known)
	var out []UserPresence
	for rows.Next() {
		u := UserPresence{}
		if err := ps.scan(rows, &u); err != nil {
			return nil, err
		}
		u.ObjectID, u.UPN, u.ExternalID = cur.ObjectID, cur.UPN, cur.ExternalID
		out = append(out, u)
	}
	return out, rows.Err()
}

// PresencePage lists up to limit of the tenant's users after the object id
// after (uuid.Nil: from the start), in object id order, with their
// presence. The page's users are read first, then the presence rows from
// after to the page's last user as one range of the presence key, and the
// two are merged here: a third of the buffers a join with a key lookup per
// user touches, and half the database's time of a join of the two ranges.
func (s *Store) PresencePage(ctx context.Context, tenantID, after uuid.UUID, limit int) ([]UserPresence, error) {
	rows, err := s.db.Query(ctx, `SELECT object_id, upn, coalesce(external_id, '') FROM directory_users
		WHERE tenant_id = $1 AND object_id > $2 ORDER BY object_id LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, wrap("presence page", err)
	}
	users := make([]UserPresence, 0, limit)
	for rows.Next() {
		var u UserPresence
		if err := rows.Scan(uuidBytes(&u.ObjectID), &u.UPN, &u.ExternalID); err != nil {
			rows.Close()
			return nil, wrap("presence page", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil || len(users) == 0 {
		return users, wrap("presence page", err)
	}
	rows, err = s.db.Query(ctx, `SELECT p.user_object_id, `+presenceColumns+` FROM presence p
		WHERE p.tenant_id = $1 AND p.user_object_id > $2 AND p.user_object_id <= $3 ORDER BY p.user_object_id`,
		tenantID, after, users[len(users)-1].ObjectID)
	if err != nil {
		return nil, wrap("presence page", err)
	}
	defer rows.Close()
	var id uuid.UUID
	ps := newPresenceScanner(uuidBytes(&id))
	next := 0 // users before next have no presence row, or have theirs
	for rows.Next() {
		var p UserPresence
		if err := ps.scan(rows, &p); err != nil {
			return nil, wrap("presence page", err)
		}
		for next < len(users) && bytes.Compare(users[next].ObjectID[:], id[:]) < 0 {
			next++
		}
		if next < len(users) && users[next].ObjectID == id {
			p.ObjectID, p.UPN, p.ExternalID = id, users[next].UPN, users[next].ExternalID
			users[next] = p
		}
	}
	return users, wrap("presence page", rows.Err())
}

// PresencesOf reads the users with these object ids that are on the
// tenant's roster, in object id order; ids not on it are left out.
func (s *Store) PresencesOf(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) ([]UserPresence, error) {
	rows, err := s.db.Query(ctx, userPresenceFrom+`
		WHERE d.tenant_id = $1 AND d.object_id = ANY ($2) ORDER BY d.object_id`, tenantID, ids)
	if err != nil {
		return nil, wrap("presences of", err)
	}
	v, err := userPresences(rows)
	return v, wrap("presences of", err)
}

// FindUserPresence reads the presence of the roster user with Graph object
// id ref or, when none has it, the one entered as UPN ref (as
// FindDirectoryUser); ErrUserNotFound when neither is on the roster with
// an object id.
func (s *Store) FindUserPresence(ctx context.Context, tenantID uuid.UUID, ref string) (UserPresence, error) {
	q, args := byRef(userPresenceFrom, "d.object_id IS NOT NULL", tenantID, ref)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return UserPresence{}, wrap("find user presence", err)
	}
	us, err := userPresences(rows)
	if err == nil && len(us) == 0 {
		return UserPresence{}, ErrUserNotFound
	}
	if err != nil {
		return UserPresence{}, wrap("find user presence", err)
	}
	return us[0], nil
}
