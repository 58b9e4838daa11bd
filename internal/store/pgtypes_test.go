package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

func TestIdsAreWrittenAsTheirSixteenBytesNotThroughTheirText(t *testing.T) {
	id := uuid.New()
	buf := make([]byte, 0, 64)
	allocs := func(m *pgtype.Map, v any) float64 {
		return testing.AllocsPerRun(100, func() {
			if _, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, v, buf[:0]); err != nil {
				t.Fatal(err)
			}
		})
	}
	plain := pgtype.NewMap()
	ours := pgtype.NewMap()
	store.RegisterTypes(ours)
	for _, c := range []struct {
		oid uint32
		v   any
	}{{pgtype.UUIDOID, id}, {pgtype.UUIDOID, &id}, {pgtype.UUIDOID, (*uuid.UUID)(nil)}, {pgtype.UUIDArrayOID, []uuid.UUID{id, id, id}}} {
		want, err := plain.Encode(c.oid, pgtype.BinaryFormatCode, c.v, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ours.Encode(c.oid, pgtype.BinaryFormatCode, c.v, nil)
		if err != nil || string(got) != string(want) || (got == nil) != (want == nil) {
			t.Fatalf("%T written as %x (%v), pgx writes %x", c.v, got, err, want)
		}
	}
	// pgx's own way: the Valuer's text, a failed attempt, a parse — 5 or
	// more allocations for one id.
	if before, after := allocs(plain, id), allocs(ours, id); after > 0 || before <= after {
		t.Fatalf("writing one id allocates %v times, pgx's way %v", after, before)
	}
}

func TestIdsRoundTripThroughPostgreSQLIncludingNullsAndArrays(t *testing.T) {
	ctx := context.Background()
	pool := testkit.DB(t) // configured as the product's pools
	a, b := uuid.New(), uuid.New()
	var (
		one   uuid.UUID
		null  *uuid.UUID
		some  *uuid.UUID
		many  []uuid.UUID
		count int
	)
	err := pool.QueryRow(ctx, `SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid[], cardinality($4::uuid[])`,
		a, (*uuid.UUID)(nil), &b, []uuid.UUID{a, b}).Scan(&one, &null, &some, &many, &count)
	if err != nil {
		t.Fatal(err)
	}
	if one != a || null != nil || some == nil || *some != b || len(many) != 2 || many[0] != a || many[1] != b || count != 2 {
		t.Fatalf("read back %v, %v, %v, %v (%d); wrote %v, nil, %v, [%v %v]", one, null, some, many, count, a, b, a, b)
	}
	// NULL into a uuid.UUID leaves it as it was, as uuid.UUID's Scan did.
	kept := a
	if err := pool.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&kept); err != nil || kept != a {
		t.Fatalf("NULL read into a uuid.UUID: %v, %v", kept, err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM unnest($1::uuid[]) u WHERE u = ANY($2)`,
		[]uuid.UUID{a, b, uuid.New()}, []uuid.UUID{b}).Scan(&n); err != nil || n != 1 {
		t.Fatalf("ANY over ids: %d, %v", n, err)
	}
}
