package storetest

import (
	"testing"
	"time"

	"presencebridge/internal/testkit"
)

// Ageing the database by 70 minutes moves every time of the product's
// tables 70 minutes into the past — a session's expiry, a tenant's
// creation — leaves an absent time absent, and leaves the tables keyed by
// a time (activity by minute) as they were.
func TestAgeDatabaseMovesEveryStoredTimeIntoThePast(t *testing.T) {
	pool := testkit.DB(t)
	ctx := t.Context()
	tenant := Tenant(t, pool, "Contoso")
	minute := time.Now().Truncate(time.Minute).UTC()
	for _, q := range []string{
		`INSERT INTO sessions (token, data, expiry) SELECT $1::text, '', now() + interval '40 minutes'`,
		`INSERT INTO activity_minutes (tenant_id, at, latency) VALUES ($1, date_trunc('minute', now()), array_fill(0, ARRAY[35]))`,
	} {
		if _, err := pool.Exec(ctx, q, tenant); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	type times struct {
		created, expires time.Time
		purge            *time.Time
		activity         time.Time
	}
	read := func() (x times) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT t.created_at, s.expiry, t.purge_after, a.at
			FROM tenants t JOIN sessions s ON s.token = t.id::text JOIN activity_minutes a ON a.tenant_id = t.id`).
			Scan(&x.created, &x.expires, &x.purge, &x.activity); err != nil {
			t.Fatal(err)
		}
		return x
	}
	before := read()
	if err := AgeDatabase(ctx, pool, 70*time.Minute); err != nil {
		t.Fatal(err)
	}
	after := read()
	for what, d := range map[string]time.Duration{"tenant's creation": before.created.Sub(after.created),
		"session's expiry": before.expires.Sub(after.expires)} {
		if d != 70*time.Minute {
			t.Errorf("the %s moved %v, want 70m", what, d)
		}
	}
	var expired bool
	if err := pool.QueryRow(ctx, `SELECT expiry < now() FROM sessions`).Scan(&expired); err != nil || !expired {
		t.Errorf("a session with 40 minutes to live has not expired 70 minutes on (%v)", err)
	}
	if after.purge != nil {
		t.Errorf("an absent time became %v", after.purge)
	}
	if !after.activity.Equal(before.activity) || !after.activity.Equal(minute) {
		t.Errorf("the activity minute moved from %v to %v", before.activity, after.activity)
	}
	if err := AgeDatabase(ctx, pool, 0); err == nil {
		t.Error("ageing by nothing was accepted")
	}
}
