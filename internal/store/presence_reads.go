package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	// nil skips the rich presence too: see scan.
	ps.dest = append(lead, nil, nil, nil, &ps.seq, &ps.seen, &ps.held, nil, nil, nil)
	return ps
}

// word is b as a string, shared with every other row that has it (when
// ps reads many: see onePresence).
func (ps *presenceScanner) word(b []byte) string {
	if ps.words == nil {
		return string(b)
	}
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
	// The rich presence is decoded here, and only where there is one:
	// pgx's jsonb scan plans (and allocates) for each column of each row,
	// NULL or not — six allocations a row, most of them for users with no
	// rich presence.
	formats := rows.FieldDescriptions()[ps.first+6:]
	err := errors.Join(decodeJSONB(raw[6], formats[0].Format, &ps.rich.StatusMessage),
		decodeJSONB(raw[7], formats[1].Format, &ps.rich.OutOfOffice), decodeJSONB(raw[8], formats[2].Format, &ps.rich.WorkLocation))
	if err != nil {
		return fmt.Errorf("scan rich presence: %w", err)
	}
	u.Sequence, u.ObservedAt, u.HeldUntil, u.Rich = ps.seq.Int64, ps.seen.Time, time.Time{}, ps.rich
	if ps.held.Valid {
		u.HeldUntil = ps.held.Time
	}
	return nil
}

// decodeJSONB reads a jsonb column as pgx's scan into *T would: SQL NULL
// and JSON null leave nil, anything else a new T.
func decodeJSONB[T any](raw []byte, format int16, dst **T) error {
	if raw == nil {
		return nil
	}
	if format == pgtype.BinaryFormatCode {
		if len(raw) == 0 || raw[0] != 1 {
			return errors.New("not jsonb of version 1")
		}
		raw = raw[1:]
	}
	return json.Unmarshal(raw, dst)
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

// PresencePage calls fn with each of up to limit of the tenant's users
// after the object id after (uuid.Nil: from the start), in object id
// order, with their presence; fn's argument is reused from one call to the
// next, and an error from fn ends the page with that error.
//
// A snapshot reads a hundred such pages in a row, so a page is read lean:
// the page's users and the presence rows after `after` are read as two
// ranges of their (tenant_id, object id) keys — a third of the buffers a
// join with a key lookup per user touches, half the database's time of a
// join of the two ranges — at the same time on two connections (on the
// pool; one after the other in a transaction), and merged as the presence
// rows arrive; nothing is kept per user but its id and where its UPN and
// external id end in one string (what a page allocates, the collector
// pays for).
func (s *Store) PresencePage(ctx context.Context, tenantID, after uuid.UUID, limit int, fn func(*UserPresence) error) error {
	var r pageRoster
	done := make(chan struct{})
	readRoster := func() {
		defer close(done)
		r.err = r.read(ctx, s.db, tenantID, after, limit)
	}
	if _, inTx := s.db.(pgx.Tx); inTx {
		readRoster() // one connection: one statement at a time
	} else {
		go readRoster()
	}
	// The presence rows of the page's users are among the first limit
	// after `after`, but where rows of users no longer on the roster sit
	// between them: then the rest is read once those are passed.
	m := pageMerge{roster: &r, fn: fn}
	rows, err := s.db.Query(ctx, `SELECT p.user_object_id, `+presenceColumns+` FROM presence p
		WHERE p.tenant_id = $1 AND p.user_object_id > $2 ORDER BY p.user_object_id LIMIT $3`, tenantID, after, limit)
	if err == nil {
		<-done
		err = r.err
		if err == nil {
			err = m.merge(rows)
		}
		rows.Close()
	}
	<-done
	if err == nil && m.rows == limit && len(r.users) > 0 && bytes.Compare(m.last[:], r.users[len(r.users)-1].id[:]) < 0 {
		rows, err = s.db.Query(ctx, `SELECT p.user_object_id, `+presenceColumns+` FROM presence p
			WHERE p.tenant_id = $1 AND p.user_object_id > $2 AND p.user_object_id <= $3 ORDER BY p.user_object_id`,
			tenantID, m.last, r.users[len(r.users)-1].id)
		if err == nil {
			err = m.merge(rows)
			rows.Close()
		}
	}
	if err == nil {
		err = m.noneUpTo(len(r.users))
	}
	return wrap("presence page", err)
}

// pageRoster is a page of the roster: its users' ids in order, and their
// UPNs and external ids one after the other in names.
type pageRoster struct {
	users []rosterUser
	names string
	err   error
}

type rosterUser struct {
	id             uuid.UUID
	upnEnd, extEnd int // where the user's UPN and external id end in names
}

func (r *pageRoster) read(ctx context.Context, db querier, tenantID, after uuid.UUID, limit int) error {
	rows, err := db.Query(ctx, `SELECT object_id, upn, coalesce(external_id, '') FROM directory_users
		WHERE tenant_id = $1 AND object_id > $2 ORDER BY object_id LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	r.users = make([]rosterUser, 0, limit)
	var names []byte
	for rows.Next() {
		var u rosterUser
		if err := rows.Scan(uuidBytes(&u.id), nil, nil); err != nil {
			return err
		}
		raw := rows.RawValues()
		names = append(names, raw[1]...)
		u.upnEnd = len(names)
		names = append(names, raw[2]...)
		u.extEnd = len(names)
		r.users = append(r.users, u)
	}
	r.names = string(names)
	return rows.Err()
}

// user is the i-th user's id, UPN and external id.
func (r *pageRoster) user(i int) (id uuid.UUID, upn, ext string) {
	start := 0
	if i > 0 {
		start = r.users[i-1].extEnd
	}
	u := r.users[i]
	return u.id, r.names[start:u.upnEnd], r.names[u.upnEnd:u.extEnd]
}

// pageMerge passes a page's users to fn in order, each with its presence
// row or none.
type pageMerge struct {
	roster *pageRoster
	fn     func(*UserPresence) error
	p      UserPresence // what fn is given
	next   int          // the users before next have been passed to fn
	rows   int          // presence rows read
	last   uuid.UUID    // the last one's user
}

// merge reads presence rows in user id order, passing the users up to each.
func (m *pageMerge) merge(rows pgx.Rows) error {
	users := m.roster.users
	ps := newPresenceScanner(uuidBytes(&m.last))
	var row UserPresence
	for rows.Next() {
		row = UserPresence{}
		if err := ps.scan(rows, &row); err != nil {
			return err
		}
		m.rows++
		upTo := m.next
		for upTo < len(users) && bytes.Compare(users[upTo].id[:], m.last[:]) < 0 {
			upTo++
		}
		if err := m.noneUpTo(upTo); err != nil {
			return err
		}
		if m.next < len(users) && users[m.next].id == m.last { // else: no longer on the roster
			m.p = row
			m.p.ObjectID, m.p.UPN, m.p.ExternalID = m.roster.user(m.next)
			m.next++
			if err := m.fn(&m.p); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}

// noneUpTo passes the users before upTo: they have no presence row.
func (m *pageMerge) noneUpTo(upTo int) error {
	for ; m.next < upTo; m.next++ {
		m.p = UserPresence{}
		m.p.ObjectID, m.p.UPN, m.p.ExternalID = m.roster.user(m.next)
		if err := m.fn(&m.p); err != nil {
			return err
		}
	}
	return nil
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
	rows, err := s.db.Query(ctx, findUserPresenceSQL, byRefArgs(tenantID, ref)...)
	if err != nil {
		return UserPresence{}, wrap("find user presence", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return UserPresence{}, wrap("find user presence", err)
		}
		return UserPresence{}, ErrUserNotFound
	}
	u, err := readOnePresence(rows)
	if err != nil {
		return UserPresence{}, wrap("find user presence", err)
	}
	rows.Close()
	return u, wrap("find user presence", rows.Err())
}

// readOnePresence reads a row of userPresenceFrom. The row comes in pgx's
// binary format (the pool's statement cache asks for it), read here as
// PostgreSQL sends it: pgx's Scan plans each column of each result anew —
// 14 of a single read's 76 allocations in the server, the read the API
// makes most often (BenchmarkSingleUserPresenceAt2000) — and the user it
// scans into is one more (here it stays on the stack). A row in any other
// format (the simple protocol, as behind a pooler) is scanned.
func readOnePresence(rows pgx.Rows) (UserPresence, error) {
	raw := rows.RawValues()
	fields := rows.FieldDescriptions()
	// Text columns are the same in either format (pgx asks for them in
	// text); the id, the flag, the sequence and the times are not.
	for _, i := range []int{0, 3, 7, 8, 9} {
		if len(fields) != 13 || fields[i].Format != pgtype.BinaryFormatCode {
			return scanOnePresence(rows)
		}
	}
	var u UserPresence
	if len(raw) != 13 || len(raw[0]) != 16 || len(raw[3]) != 1 {
		return u, errors.New("not a row of userPresenceFrom")
	}
	u.ObjectID, u.UPN, u.ExternalID = uuid.UUID(raw[0]), string(raw[1]), string(raw[2])
	if raw[3][0] == 0 { // no presence row
		return u, nil
	}
	u.Known = true
	u.Availability, u.Activity, u.MappedState = knownWord(raw[4]), knownWord(raw[5]), knownWord(raw[6])
	if len(raw[7]) != 8 {
		return u, errors.New("sequence: not an int8")
	}
	u.Sequence = int64(binary.BigEndian.Uint64(raw[7]))
	var err error
	if u.ObservedAt, err = binaryTimestamptz(raw[8]); err != nil {
		return u, fmt.Errorf("observed_at: %w", err)
	}
	if u.HeldUntil, err = binaryTimestamptz(raw[9]); err != nil {
		return u, fmt.Errorf("held_until: %w", err)
	}
	if raw[10] != nil || raw[11] != nil || raw[12] != nil {
		u.Rich, err = decodeRich(raw[10:], fields[10:])
	}
	return u, err
}

// decodeRich reads the three rich-presence jsonb columns.
func decodeRich(raw [][]byte, fields []pgconn.FieldDescription) (presence.Rich, error) {
	var r presence.Rich
	err := errors.Join(decodeJSONB(raw[0], fields[0].Format, &r.StatusMessage),
		decodeJSONB(raw[1], fields[1].Format, &r.OutOfOffice), decodeJSONB(raw[2], fields[2].Format, &r.WorkLocation))
	if err != nil {
		return r, fmt.Errorf("scan rich presence: %w", err)
	}
	return r, nil
}

// scanOnePresence is readOnePresence for a row pgx scans.
func scanOnePresence(rows pgx.Rows) (UserPresence, error) {
	u := new(UserPresence)
	var known bool
	ps := presenceScanner{first: 4}
	ps.dest = append(make([]any, 0, 13), uuidBytes(&u.ObjectID), &u.UPN, &u.ExternalID, &known,
		nil, nil, nil, &ps.seq, &ps.seen, &ps.held, nil, nil, nil)
	err := ps.scan(rows, u)
	return *u, err
}

// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC), and
// its infinities, as pgx's timestamptz codec has them.
const (
	pgEpochMicros       = 946_684_800 * 1_000_000
	pgInfinityMicros    = math.MaxInt64
	pgNegInfinityMicros = math.MinInt64
)

// binaryTimestamptz reads a timestamptz in binary format as pgx's scan
// into pgtype.Timestamptz does (time.Unix: the process's location), zero
// for NULL and the infinities.
func binaryTimestamptz(raw []byte) (time.Time, error) {
	if raw == nil {
		return time.Time{}, nil
	}
	if len(raw) != 8 {
		return time.Time{}, errors.New("not a binary timestamptz")
	}
	us := int64(binary.BigEndian.Uint64(raw))
	if us == pgInfinityMicros || us == pgNegInfinityMicros {
		return time.Time{}, nil
	}
	return time.Unix(pgEpochMicros/1_000_000+us/1_000_000, pgEpochMicros%1_000_000*1_000+us%1_000_000*1_000), nil
}

// knownWords are the availabilities, activities and states presence
// rows mostly hold (the presences Teams commonly shows, our states), each
// read without a string of its own.
var knownWords = func() map[string]string {
	m := map[string]string{}
	for _, p := range presence.PreviewSamples {
		m[p.Availability], m[p.Activity] = p.Availability, p.Activity
	}
	for _, s := range []presence.State{presence.Available, presence.Talking, presence.Busy, presence.Away,
		presence.DoNotDisturb, presence.Offline, presence.Unknown} {
		m[string(s)] = string(s)
	}
	return m
}()

// knownWord is b as a string, one of knownWords' where it is one.
func knownWord(b []byte) string {
	if w, ok := knownWords[string(b)]; ok {
		return w
	}
	return string(b)
}

// findUserPresenceSQL is FindUserPresence's query.
var findUserPresenceSQL = byRefSQL(userPresenceFrom, "d.object_id IS NOT NULL")
