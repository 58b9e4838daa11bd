package intake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/notification"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// statementCounter counts the statements sent through a pool whose text
// holds one of its fragments (pgx's tracer).
type statementCounter struct {
	fragments []string
	n         []atomic.Int64
}

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	for i, f := range c.fragments {
		if strings.Contains(d.SQL, f) {
			c.n[i].Add(1)
		}
	}
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) counts() []int64 {
	out := make([]int64, len(c.n))
	for i := range c.n {
		out[i] = c.n[i].Swap(0)
	}
	return out
}

// countedStore is a store on pool's database through a pool of its own,
// whose statements holding fragments are counted.
func countedStore(t testing.TB, pool *pgxpool.Pool, fragments ...string) (*store.Store, *statementCounter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	c := &statementCounter{fragments: fragments, n: make([]atomic.Int64, len(fragments))}
	cfg.ConnConfig.Tracer = c
	traced, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(traced.Close)
	return storetest.Open(t, traced), c
}

// At a million users a POST's items come from as many subscriptions and
// tenants as items: looked up one by one, a batch cost two round trips an
// item inside its transaction.
func TestABatchOfItemsFromManyTenantsLooksUpTheirSubscriptionsAndTenantsInOneStatementEach(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	st, counter := countedStore(t, f.pool, "FROM subscriptions WHERE graph_id", "FROM tenants WHERE id")
	p := NewProcessor(st, ProcessorOptions{Keys: notification.NewKeys(f.key), Tokens: tokens{}})

	const tenants = 6
	var items []map[string]any
	var users []uuid.UUID
	var pendingTenant, pendingMS uuid.UUID
	for i := range tenants + 1 {
		tenant, ms := storetest.Tenant(t, f.pool, fmt.Sprintf("Tenant %d", i)), uuid.New()
		testkit.Exec(t, f.pool, `UPDATE tenants SET ms_tenant_id = $2 WHERE id = $1`, tenant, ms)
		m, err := f.st.AddMonitor(ctx, tenant, fmt.Sprintf("monitor@t%d.example", i))
		if err != nil {
			t.Fatal(err)
		}
		var graphID any = fmt.Sprintf("sub-t%d", i)
		if i == tenants {
			graphID, pendingTenant, pendingMS = nil, tenant, ms // being made: Graph notifies before its id is stored
		}
		testkit.Exec(t, f.pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, $3, 'r', $4)`,
			tenant, m.ID, graphID, store.ClientStateHash(fmt.Sprintf("cs-t%d", i)))
		if i < tenants {
			u := uuid.New()
			it := f.rich(t, u, "Busy", "InACall", "0001")
			it["subscriptionId"], it["clientState"], it["tenantId"] = graphID, fmt.Sprintf("cs-t%d", i), ms
			items, users = append(items, it), append(users, u)
		}
	}
	f.inbox(t, "change", items...)
	stats, err := p.Drain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Applied != tenants {
		t.Fatalf("stats = %+v, want %d applied", stats, tenants)
	}
	if n := f.count(t, `SELECT count(*) FROM presence WHERE user_object_id = ANY($1)`, users); n != tenants {
		t.Errorf("%d users' presence stored, want %d", n, tenants)
	}
	if got := counter.counts(); got[0] != 1 || got[1] != 1 {
		t.Errorf("a POST of %d items from %d tenants' subscriptions: %d statements looked up subscriptions by Graph id and %d tenants, want 1 and 1",
			tenants, tenants, got[0], got[1])
	}

	// A subscription still being made is found by its clientState, and one
	// deleted since is not found, in the same one statement as the rest
	// (store.SubscriptionKeys, as the door finds them): they used to be
	// looked up item by item, two more statements each.
	u := uuid.New()
	it := f.rich(t, u, "Away", "Away", "0001")
	it["subscriptionId"], it["clientState"], it["tenantId"] = "sub-not-stored-yet", fmt.Sprintf("cs-t%d", tenants), pendingMS
	gone := f.rich(t, uuid.New(), "Away", "Away", "0001")
	gone["subscriptionId"], gone["clientState"], gone["tenantId"] = "sub-deleted", "cs-deleted", pendingMS
	stored := f.rich(t, users[0], "Away", "Away", "0002")
	stored["subscriptionId"], stored["clientState"], stored["tenantId"] = items[0]["subscriptionId"], items[0]["clientState"], items[0]["tenantId"]
	f.inbox(t, "change", it, gone, stored)
	if stats, err := p.Drain(ctx); err != nil || stats.Applied != 2 || stats.Rejected != 1 {
		t.Fatalf("the pending, deleted and stored subscriptions' items: %+v %v, want 2 applied and 1 rejected", stats, err)
	}
	if pr, err := f.st.GetPresence(ctx, pendingTenant, u); err != nil || pr.Availability != "Away" {
		t.Errorf("the pending subscription's user: %+v %v", pr, err)
	}
	if got := counter.counts(); got[0] != 1 {
		t.Errorf("items of a pending, a deleted and a stored subscription: %d statements looked up subscriptions, want 1", got[0])
	}
}

// BenchmarkProcessingItemsFromManyTenants is the processor at a million
// users' spread: every item of a batch from another tenant's
// subscription (200 tenants, POSTs of 12 items, as the load run's
// graphsim sends them at 1,000 changes a second), each a change that is
// applied and delivered to the tenant's endpoint. It reports this
// process's CPU and the database backends' per item, and the statements
// an item costs.
func BenchmarkProcessingItemsFromManyTenants(b *testing.B) {
	const tenants, perPost, posts = 200, 12, 20
	pool := testkit.DB(b)
	ctx := context.Background()
	st0 := storetest.Open(b, pool)
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pb"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	cert, _ := x509.ParseCertificate(der)
	key := notification.Key{ID: "cert-1", Certificate: cert, Private: priv}
	type sub struct {
		graphID, clientState string
		ms                   uuid.UUID
		users                []uuid.UUID
	}
	subs := make([]sub, tenants)
	for i := range subs {
		tenant, ms := storetest.Tenant(b, pool, fmt.Sprintf("Tenant %d", i)), uuid.New()
		testkit.Exec(b, pool, `UPDATE tenants SET ms_tenant_id = $2 WHERE id = $1`, tenant, ms)
		m, err := st0.AddMonitor(ctx, tenant, fmt.Sprintf("monitor@t%d.example", i))
		if err != nil {
			b.Fatal(err)
		}
		subs[i] = sub{graphID: fmt.Sprintf("sub-t%d", i), clientState: fmt.Sprintf("cs-t%d", i), ms: ms}
		testkit.Exec(b, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, $3, 'r', $4)`,
			tenant, m.ID, subs[i].graphID, store.ClientStateHash(subs[i].clientState))
		secret, err := st0.PutSecret(ctx, &tenant, store.PurposeSigningSecret, []byte("whsec_x"))
		if err != nil {
			b.Fatal(err)
		}
		testkit.Exec(b, pool, `INSERT INTO endpoints (tenant_id, url, signing_secret_id) VALUES ($1, 'https://x.example/hook', $2)`, tenant, secret)
		for range perPost * posts / tenants * 2 {
			subs[i].users = append(subs[i].users, uuid.New())
		}
	}
	st, counter := countedStore(b, pool, "")
	p := NewProcessor(st, ProcessorOptions{Keys: notification.NewKeys(key), Tokens: tokens{}, Batch: 2})
	states := [][2]string{{"Busy", "InACall"}, {"Available", "Available"}}
	var items, statements int64
	var own, backends time.Duration
	round := 0
	for b.Loop() {
		// The inbox of this round, outside what is measured.
		round++
		var rows [][]byte
		k := 0
		for range posts {
			var post []map[string]any
			for range perPost {
				s := subs[k%tenants]
				u := s.users[(k/tenants)%len(s.users)]
				k++
				state := states[round%2]
				plain, _ := json.Marshal(map[string]any{"@odata.type": "#microsoft.graph.presence", "id": u, "availability": state[0], "activity": state[1],
					"sequenceNumber": fmt.Sprintf("%08d", round)})
				ec, err := notification.Encrypt(key, plain)
				if err != nil {
					b.Fatal(err)
				}
				post = append(post, map[string]any{"subscriptionId": s.graphID, "changeType": "updated", "clientState": s.clientState, "tenantId": s.ms,
					"resource": "communications/presences/" + u.String(), "resourceData": map[string]any{"id": u}, "encryptedContent": ec})
			}
			body, _ := json.Marshal(map[string]any{"value": post, "validationTokens": []string{"t"}})
			rows = append(rows, body)
		}
		for _, r := range rows {
			testkit.Exec(b, pool, `INSERT INTO inbox (kind, payload, items) VALUES ('change', $1, $2)`, r, perPost)
		}
		counter.counts()
		own0, back0 := testkit.ProcessCPU(), backendsCPU(b, pool)
		stats, err := p.Drain(ctx)
		own, backends = own+testkit.ProcessCPU()-own0, backends+backendsCPU(b, pool)-back0
		if err != nil || stats.Applied != posts*perPost {
			b.Fatalf("round %d: %+v %v", round, stats, err)
		}
		statements += counter.counts()[0]
		items += posts * perPost
	}
	b.ReportMetric(float64(own.Microseconds())/float64(items), "process-cpu-µs/item")
	b.ReportMetric(float64(backends.Microseconds())/float64(items), "pg-cpu-µs/item")
	b.ReportMetric(float64(statements)/float64(items), "statements/item")
}

// backendsCPU is the CPU so far of the database's backends (/proc, the
// server being on this machine).
func backendsCPU(b *testing.B, pool *pgxpool.Pool) time.Duration {
	var pids []int32
	if err := pool.QueryRow(context.Background(), `SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&pids); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+stt) * 10 * time.Millisecond
	}
	return total
}
