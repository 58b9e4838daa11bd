package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// TestABatchAppliesAsIfChangeByChange: one ApplyPresenceBatch leaves the
// same outcomes, presence, events (in per-user order) and deliveries as
// ApplyPresence called once per change in its own transaction — across
// stale reorderings, repeats, echoes and a talking debounce that starts
// and ends inside the batch.
func TestABatchAppliesAsIfChangeByChange(t *testing.T) {
	pool := testkit.DB(t)
	ctx := context.Background()
	st := store.New(pool, ring(t, "k1", "k1"))
	u1, u2, u3 := uuid.New(), uuid.New(), uuid.New()
	changes := func(tenant uuid.UUID) []store.PresenceChange {
		c := func(user uuid.UUID, avail, act, seq, mapped string) store.PresenceChange {
			return store.PresenceChange{TenantID: tenant, UserID: user, Availability: avail, Activity: act, GraphSequence: seq,
				MappedState: mapped, Source: "notification", ObservedAt: time.Now(), Debounce: 30 * time.Second}
		}
		return []store.PresenceChange{
			c(u1, "Available", "Available", "01", "available"),
			c(u1, "Available", "Available", "02", "available"), // unchanged, newer sequence kept
			c(u1, "Busy", "InACall", "01", "talking"),          // stale
			c(u2, "Busy", "InACall", "05", "talking"),
			c(u2, "Available", "Available", "06", "available"), // leaves talking: held
			c(u2, "Busy", "InACall", "07", "talking"),          // talking again: both dropped
			c(u3, "DoNotDisturb", "Presenting", "01", "dnd"),   // our own echo
			c(u1, "Away", "Away", "03", "away"),
		}
	}
	prepare := func() uuid.UUID {
		tenant := storetest.Tenant(t, pool, "Contoso")
		secret, _ := st.PutSecret(ctx, &tenant, store.PurposeSigningSecret, []byte("whsec_x"))
		if _, err := pool.Exec(ctx, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, 'https://x.example/hook', $2)`, tenant, secret); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordEcho(ctx, tenant, u3, "DoNotDisturb", "Presenting", time.Minute); err != nil {
			t.Fatal(err)
		}
		return tenant
	}

	batched := prepare()
	var got []string
	if err := st.InTx(ctx, func(tx store.Tx) error {
		var err error
		got, _, err = tx.ApplyPresenceBatch(ctx, changes(batched))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	single := prepare()
	var want []string
	for _, c := range changes(single) {
		if err := st.InTx(ctx, func(tx store.Tx) error {
			o, _, err := tx.ApplyPresence(ctx, c)
			want = append(want, o)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("outcomes: batch %v, one by one %v", got, want)
	}
	for what, sql := range map[string]string{
		"presence": `SELECT user_object_id::text, availability, activity, sequence, graph_sequence, mapped_state FROM presence
			WHERE tenant_id = $1 ORDER BY user_object_id`,
		"events": `SELECT user_object_id::text, sequence, availability, source FROM presence_events WHERE tenant_id = $1 ORDER BY id`,
		"deliveries": `SELECT e.user_object_id::text, e.sequence, d.next_attempt_at > now() + interval '10 seconds', d.user_object_id = e.user_object_id
			FROM deliveries d JOIN presence_events e ON e.id = d.event_id WHERE d.tenant_id = $1 ORDER BY d.id`,
	} {
		b, s := dump(t, pool, sql, batched), dump(t, pool, sql, single)
		if !slices.Equal(b, s) {
			t.Errorf("%s differ:\nbatch      %v\none by one %v", what, b, s)
		}
	}
	if got := dump(t, pool, `SELECT user_object_id FROM presence_echo WHERE tenant_id = $1`, batched); len(got) != 0 {
		t.Errorf("the echo was not used up: %v", got)
	}
}

func dump(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(v...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
