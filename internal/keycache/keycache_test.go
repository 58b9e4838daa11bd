package keycache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// queries counts the statements that read a key (AuthenticateAPIKey's)
// and that stamp one's use, on every connection of a pool, and the stamps
// made while a request (a call of fixture.authenticate) waited.
type queries struct{ reads, stamps, stampsInRequest atomic.Int64 }

// inRequest marks the context of fixture.authenticate's calls.
type inRequest struct{}

func (q *queries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	switch {
	case strings.Contains(d.SQL, "FROM api_keys k JOIN tenants t"):
		q.reads.Add(1)
	case strings.Contains(d.SQL, "UPDATE api_keys SET last_used_at"):
		q.stamps.Add(1)
		if ctx.Value(inRequest{}) != nil {
			q.stampsInRequest.Add(1)
		}
	}
	return ctx
}

func (q *queries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// fixture is a store on a fresh database whose key queries are counted,
// with one tenant.
type fixture struct {
	st     *store.Store
	pool   *pgxpool.Pool
	q      *queries
	tenant uuid.UUID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testkit.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	q := &queries{}
	cfg.ConnConfig.Tracer = q
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := storetest.Open(t, pool)
	return &fixture{st: st, pool: pool, q: q, tenant: storetest.Tenant(t, pool, "Contoso")}
}

// key makes a key of tenant.
func (f *fixture) key(t *testing.T, tenant uuid.UUID, expires *time.Time) (string, store.APIKey) {
	t.Helper()
	secret, k, err := f.st.CreateAPIKey(context.Background(), tenant, store.NewAPIKey{Name: "platform", Scopes: store.AllScopes, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	return secret, k
}

// cache is a Cache of the fixture's store whose listener's events arrive
// on the channel it returns; it runs until the test ends, and is listening
// when cache returns.
func (f *fixture) cache(t *testing.T, o Options) (*Cache, <-chan event) {
	t.Helper()
	c := New(f.st, o)
	events := make(chan event, 100)
	c.observe = func(e event) {
		select {
		case events <- e:
		default:
		}
	}
	run(t, c)
	waitFor(t, events, listening)
	return c, events
}

// run runs c until the test ends, and waits for Run to return then.
func run(t *testing.T, c *Cache) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor reads events until want, failing the test after 5 s.
func waitFor(t *testing.T, events <-chan event, want event) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-events:
			if e == want {
				return
			}
		case <-timeout:
			t.Fatalf("no event %d within 5 s", want)
		}
	}
}

// authenticate calls c and reports whether the key was good and how many
// key reads it cost.
func (f *fixture) authenticate(t *testing.T, c *Cache, secret string) (ok bool, reads int64) {
	t.Helper()
	before := f.q.reads.Load()
	_, err := c.Authenticate(context.WithValue(context.Background(), inRequest{}, true), secret)
	if err != nil && !errors.Is(err, store.ErrBadAPIKey) {
		t.Fatalf("authenticate: %v", err)
	}
	return err == nil, f.q.reads.Load() - before
}

func TestACachedKeyCostsNoQueryAndBadKeysAreNeverHeld(t *testing.T) {
	f := newFixture(t)
	c, _ := f.cache(t, Options{})
	secret, _ := f.key(t, f.tenant, nil)
	if ok, reads := f.authenticate(t, c, secret); !ok || reads != 1 {
		t.Fatalf("first use: ok %v with %d reads, want good with 1", ok, reads)
	}
	for range 100 {
		if ok, reads := f.authenticate(t, c, secret); !ok || reads != 0 {
			t.Fatalf("cached use: ok %v with %d reads, want good with none", ok, reads)
		}
	}
	// Unknown keys and a wrong secret of a real prefix are read every time
	// and leave nothing behind.
	wrong := secret[:len(secret)-4] + "xxxx"
	for i := range 50 {
		for _, bad := range []string{"pbk_" + uuid.NewString()[:8] + "_garbage", wrong} {
			if ok, reads := f.authenticate(t, c, bad); ok || reads != 1 {
				t.Fatalf("bad key %d: ok %v with %d reads, want refused after 1", i, ok, reads)
			}
		}
	}
	if n := len(c.entries); n != 1 {
		t.Errorf("the cache holds %d keys, want only the good one", n)
	}
}

func TestARevokedKeyIsRefusedOnTheNextRequestThoughCachedOnEveryInstance(t *testing.T) {
	f := newFixture(t)
	// Two caches of one database: two instances of the web role.
	a, aEvents := f.cache(t, Options{})
	b, bEvents := f.cache(t, Options{})
	secret, k := f.key(t, f.tenant, nil)
	for _, c := range []*Cache{a, b} {
		f.authenticate(t, c, secret)
		if ok, reads := f.authenticate(t, c, secret); !ok || reads != 0 {
			t.Fatalf("before revocation: ok %v with %d reads, want good from the cache", ok, reads)
		}
	}

	err := f.st.InTx(context.Background(), func(tx store.Tx) error { // as the API revokes
		_, err := tx.RevokeAPIKey(context.Background(), f.tenant, k.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, aEvents, notified)
	waitFor(t, bEvents, notified)
	for name, c := range map[string]*Cache{"a": a, "b": b} {
		if ok, _ := f.authenticate(t, c, secret); ok {
			t.Errorf("instance %s: the revoked key still authenticates", name)
		}
	}
}

func TestATenantsCachedKeysAreRefusedAtOnceWhenItIsSuspendedOrDeleted(t *testing.T) {
	for name, change := range map[string]string{
		"suspended": `UPDATE tenants SET status = 'suspended' WHERE id = $1`,
		"deleted":   `UPDATE tenants SET status = 'deleted' WHERE id = $1`,
		"removed":   `DELETE FROM tenants WHERE id = $1`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			c, events := f.cache(t, Options{})
			secret, _ := f.key(t, f.tenant, nil)
			other := storetest.Tenant(t, f.pool, "Fabrikam")
			otherSecret, _ := f.key(t, other, nil)
			for _, s := range []string{secret, secret, otherSecret, otherSecret} {
				f.authenticate(t, c, s)
			}
			// As an operator would, at psql: no method of ours involved.
			testkit.Exec(t, f.pool, change, f.tenant)
			waitFor(t, events, notified)
			if ok, _ := f.authenticate(t, c, secret); ok {
				t.Errorf("the %s tenant's key still authenticates", name)
			}
			if ok, reads := f.authenticate(t, c, otherSecret); !ok || reads != 0 {
				t.Errorf("another tenant's key: ok %v with %d reads, want still good from the cache", ok, reads)
			}
		})
	}
}

func TestACachedKeyIsRefusedAtItsExpiry(t *testing.T) {
	f := newFixture(t)
	c, _ := f.cache(t, Options{})
	expires := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	secret, _ := f.key(t, f.tenant, &expires)
	f.authenticate(t, c, secret)
	// The database would still take the key: only the cache's clock,
	// checked at every use, refuses it.
	for at, want := range map[time.Time]bool{expires.Add(-time.Millisecond): true, expires: false, expires.Add(time.Minute): false} {
		c.now = func() time.Time { return at }
		if ok, reads := f.authenticate(t, c, secret); ok != want || reads != 0 {
			t.Errorf("at expiry%+v: ok %v with %d reads, want %v from the cache", at.Sub(expires), ok, reads, want)
		}
	}
}

func TestWhileTheListenerIsDownKeysAreCheckedInTheDatabaseAndAReconnectStartsEmpty(t *testing.T) {
	f := newFixture(t)
	c := New(f.st, Options{})
	events := make(chan event, 100)
	c.observe = func(e event) { events <- e }
	// The listener connects only when the test lets it.
	connect := make(chan struct{}, 1)
	open := c.open
	c.open = func(ctx context.Context) (store.Waiter, error) {
		select {
		case <-connect:
			return open(ctx)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	revoked, k := f.key(t, f.tenant, nil)
	kept, _ := f.key(t, f.tenant, nil)

	// Not yet listening: nothing is trusted, nothing is held.
	run(t, c)
	for range 2 {
		if ok, reads := f.authenticate(t, c, kept); !ok || reads != 1 {
			t.Fatalf("before listening: ok %v with %d reads, want good from the database", ok, reads)
		}
	}
	connect <- struct{}{}
	waitFor(t, events, listening)
	for _, s := range []string{revoked, revoked, kept, kept} {
		f.authenticate(t, c, s)
	}

	// The LISTEN connection is cut: a revocation meanwhile is missed by
	// the listener, and honoured from the database.
	testkit.Exec(t, f.pool, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`)
	waitFor(t, events, lost)
	if _, err := f.st.RevokeAPIKey(context.Background(), f.tenant, k.ID); err != nil {
		t.Fatal(err)
	}
	if ok, reads := f.authenticate(t, c, revoked); ok || reads != 1 {
		t.Errorf("revoked during the outage: ok %v with %d reads, want refused by the database", ok, reads)
	}
	for range 2 {
		if ok, reads := f.authenticate(t, c, kept); !ok || reads != 1 {
			t.Errorf("during the outage: ok %v with %d reads, want good from the database", ok, reads)
		}
	}

	// Back: what was held before the outage is gone.
	connect <- struct{}{}
	waitFor(t, events, listening)
	if ok, reads := f.authenticate(t, c, revoked); ok || reads != 1 {
		t.Errorf("revoked during the outage, after reconnecting: ok %v with %d reads, want refused by the database", ok, reads)
	}
	if ok, reads := f.authenticate(t, c, kept); !ok || reads != 1 {
		t.Errorf("after reconnecting: ok %v with %d reads, want read again", ok, reads)
	}
}

func TestTheCacheHoldsAtMostSizeKeysAndReadsAKeyAgainAfterMaxAge(t *testing.T) {
	f := newFixture(t)
	c, _ := f.cache(t, Options{Size: 2, MaxAge: time.Minute})
	for range 5 {
		secret, _ := f.key(t, f.tenant, nil)
		f.authenticate(t, c, secret)
	}
	if n := len(c.entries); n != 2 {
		t.Errorf("the cache holds %d keys, want its size, 2", n)
	}
	secret, _ := f.key(t, f.tenant, nil)
	f.authenticate(t, c, secret)
	start := time.Now()
	for after, want := range map[time.Duration]int64{59 * time.Second: 0, 61 * time.Second: 1} {
		c.now = func() time.Time { return start.Add(after) }
		if _, reads := f.authenticate(t, c, secret); reads != want {
			t.Errorf("%v after it was read: %d reads, want %d", after, reads, want)
		}
	}
}

func TestACachedKeysUseIsStampedAtMostOnceAMinuteAndNotByTheRequest(t *testing.T) {
	f := newFixture(t)
	c, events := f.cache(t, Options{})
	secret, k := f.key(t, f.tenant, nil)
	f.authenticate(t, c, secret) // read, and stamped (the store does when due)
	testkit.Exec(t, f.pool, `UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, k.ID)
	stamps, stampsInRequest := f.q.stamps.Load(), f.q.stampsInRequest.Load()

	start := time.Now()
	at := func(d time.Duration) { c.now = func() time.Time { return start.Add(d) } }
	for _, after := range []time.Duration{30 * time.Second, 61 * time.Second, 62 * time.Second, 90 * time.Second} {
		at(after)
		if ok, reads := f.authenticate(t, c, secret); !ok || reads != 0 {
			t.Fatalf("%v later: ok %v with %d reads, want good from the cache", after, ok, reads)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var recent bool
		if err := f.pool.QueryRow(context.Background(), `SELECT last_used_at > now() - interval '1 minute' FROM api_keys WHERE id = $1`, k.ID).Scan(&recent); err != nil {
			t.Fatal(err)
		}
		if recent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key's use was not stamped within 5 s of its being due")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n, inRequest := f.q.stamps.Load()-stamps, f.q.stampsInRequest.Load()-stampsInRequest; n != 1 || inRequest != 0 {
		t.Errorf("%d stamps for four uses over 90 s, %d of them while a request waited; want 1, none", n, inRequest)
	}

	// A stamp is not a change that evicts: notifications arrive in commit
	// order, so when another tenant's change has arrived, a stamp's would
	// have too.
	testkit.Exec(t, f.pool, `UPDATE tenants SET status = 'suspended' WHERE id = $1`, storetest.Tenant(t, f.pool, "Fabrikam"))
	waitFor(t, events, notified)
	if ok, reads := f.authenticate(t, c, secret); !ok || reads != 0 {
		t.Errorf("after its use was stamped: ok %v with %d reads, want still good from the cache", ok, reads)
	}
}
