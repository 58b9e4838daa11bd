package store

import (
	"context"
	"fmt"

	"github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ConfigurePool makes every connection of the pool write and read our ids
// (github.com/google/uuid) as PostgreSQL's 16 bytes directly. Without it a
// uuid.UUID reaches pgx as a driver.Valuer: pgx asks for its text, fails
// to write that as a uuid (an error made and dropped), parses it back and
// writes the bytes; reading one goes through sql.Scanner and the text
// again. In a cold start of 1,000,000 users that was 33 % of serve's CPU
// (ApplyPresenceBatch, RecordResolutions, the presence locks; issue 16);
// the arrays of a batch of 1,000 users' presence alone were 52 % of
// ApplyPresenceBatch's CPU (BenchmarkARepairBatchOf1000ChangedUsers), and
// ids were 40 % of a single presence read's allocations (8dd8146, issue
// 12). So store code passes uuid.UUID, []uuid.UUID and []*uuid.UUID as
// they are; pgtype.UUID only where an id may be NULL for another reason.
//
// It also turns PostgreSQL's JIT compilation off for the pool's sessions
// (unless the connection string sets jit): JIT pays for itself on long
// analytic queries, and ours are short ones whose estimated cost can still
// pass jit_above_cost when statistics are stale — a delivery claim of 20
// rows then compiled 184 functions, 232 ms of the database's CPU to run
// for 3 ms (EXPLAIN ANALYZE's JIT timing, 1,000 endpoints, statistics
// taken while 50,000 deliveries were pending; 9908081). Any statement
// planned from such estimates is exposed, so the setting is the pool's.
func ConfigurePool(cfg *pgxpool.Config) {
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	after := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		RegisterTypes(conn.TypeMap())
		if after != nil {
			return after(ctx, conn)
		}
		return nil
	}
}

// RegisterTypes registers uuidCodec for uuid and uuid[] in m, and json and
// jsonb (and their arrays) with github.com/goccy/go-json in place of
// encoding/json. A repair reads every user's held presence, whose rich
// presence is three jsonb columns (HeldPresences): decoding them was 5.7 %
// of serve's CPU in the load run's repair of 100,000 users, and goccy
// decodes them in a fraction of the time and allocations
// (BenchmarkReadingTheHeldPresenceOf1000UsersWithRichPresence). It
// decodes as encoding/json does, as the Graph client and the notification
// parser already rely on.
func RegisterTypes(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
	j := &pgtype.Type{Name: "json", OID: pgtype.JSONOID, Codec: &pgtype.JSONCodec{Marshal: json.Marshal, Unmarshal: json.Unmarshal}}
	jb := &pgtype.Type{Name: "jsonb", OID: pgtype.JSONBOID, Codec: &pgtype.JSONBCodec{Marshal: json.Marshal, Unmarshal: json.Unmarshal}}
	m.RegisterType(j)
	m.RegisterType(jb)
	m.RegisterType(&pgtype.Type{Name: "_json", OID: pgtype.JSONArrayOID, Codec: &pgtype.ArrayCodec{ElementType: j}})
	m.RegisterType(&pgtype.Type{Name: "_jsonb", OID: pgtype.JSONBArrayOID, Codec: &pgtype.ArrayCodec{ElementType: jb}})
}

// uuidCodec is pgx's uuid codec that also knows uuid.UUID and *uuid.UUID
// (nil is NULL). What it does not know it leaves to pgx's.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case uuid.UUID:
			return encodeUUID{}
		case *uuid.UUID:
			return encodeUUIDPtr{}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUID struct{}

func (encodeUUID) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(uuid.UUID)
	return append(buf, id[:]...), nil
}

type encodeUUIDPtr struct{}

func (encodeUUIDPtr) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(*uuid.UUID)
	if id == nil {
		return nil, nil // NULL
	}
	return append(buf, id[:]...), nil
}

type scanUUID struct{}

// Scan reads the 16 bytes; NULL leaves the target as it was, as
// uuid.UUID's own Scan (sql.Scanner) does, so reading NULL into a
// uuid.UUID behaves as before.
func (scanUUID) Scan(src []byte, target any) error {
	switch {
	case src == nil:
		return nil
	case len(src) != 16:
		return fmt.Errorf("a uuid of %d bytes, not 16", len(src))
	}
	copy(target.(*uuid.UUID)[:], src)
	return nil
}
