package graphhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"presencebridge/internal/intake"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type fixture struct {
	pool    *pgxpool.Pool
	srv     *httptest.Server
	tenant  uuid.UUID
	logs    *testkit.Logs
	metrics *prometheus.Registry
	// subs is the pool the receiver looks subscriptions up on, and lookups
	// counts the statements it sent there.
	subs    *pgxpool.Pool
	lookups *queryCounter
	h       *Handler
	// stopListening ends the receiver's Run.
	stopListening func()
}

// queryCounter counts the statements sent through a pool that name a
// table (pgx's tracer): what a request cost the database, whatever the
// store's methods are called.
type queryCounter struct {
	table string
	n     atomic.Int64
}

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, c.table) {
		c.n.Add(1)
	}
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// tracedPool is a pool of its own on pool's database, whose statements on
// table are counted.
func tracedPool(t *testing.T, pool *pgxpool.Pool, table string) (*pgxpool.Pool, *queryCounter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	c := &queryCounter{table: table}
	cfg.ConnConfig.Tracer = c
	traced, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(traced.Close)
	return traced, c
}

// newFixture serves the receiver with one subscription "sub-1" (clientState
// "state-1") and one being created (clientState "state-2").
func newFixture(t *testing.T, change ...func(*Deps)) *fixture {
	t.Helper()
	f := &fixture{pool: testkit.DB(t), logs: &testkit.Logs{}, metrics: prometheus.NewRegistry()}
	ctx := context.Background()
	st := storetest.Open(t, f.pool)
	f.tenant = storetest.Tenant(t, f.pool, "Contoso")
	for i, graphID := range []any{"sub-1", nil} {
		m, err := st.AddMonitor(ctx, f.tenant, fmt.Sprintf("monitor-%d@contoso.example", i))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.pool.Exec(ctx, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, $3, 'r', $4)`,
			f.tenant, m.ID, graphID, store.ClientStateHash(fmt.Sprintf("state-%d", i+1)))
		if err != nil {
			t.Fatal(err)
		}
	}
	c := intake.NewCommitter(f.pool, intake.CommitterOptions{})
	cctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(cctx)
	f.subs, f.lookups = tracedPool(t, f.pool, "subscriptions")
	d := Deps{Subs: store.New(f.subs, nil), Committer: c, Changes: st, Metrics: f.metrics,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil))}
	for _, ch := range change {
		ch(&d)
	}
	h := New(d)
	lctx, stop := context.WithCancel(cctx)
	listening := make(chan struct{})
	go func() { defer close(listening); h.Run(lctx) }()
	// Its LISTEN connection is the pool's until it stops: pool.Close waits for it.
	f.stopListening = func() { stop(); <-listening }
	for deadline := time.Now().Add(5 * time.Second); !h.cache.isTrusted(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the receiver does not listen for changes of subscriptions")
		}
	}
	f.h = h
	r := chi.NewRouter()
	r.Route("/graph", h.Routes)
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	code, b, err := post(f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, b
}

// post POSTs body to url; safe from any goroutine.
func post(url, body string) (int, string, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// asTheWebRole serves another receiver on f's database as the web role
// runs it (cmd/presencebridge/intake.go): lookups on a connection of their
// own, the group commit on two more, and a LISTEN for changes of
// subscriptions. It returns the notification URL.
func (f *fixture) asTheWebRole(t *testing.T) string {
	t.Helper()
	pool := func(conns int32) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(f.pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = conns
		p, err := pgxpool.NewWithConfig(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	c := intake.NewCommitter(pool(2), intake.CommitterOptions{Workers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	h := New(Deps{Subs: store.New(pool(1), nil), Committer: c, Changes: store.New(f.pool, nil), Logger: slog.New(slog.NewJSONHandler(f.logs, nil))})
	go h.Run(ctx)
	r := chi.NewRouter()
	r.Route("/graph", h.Routes)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL + "/graph/notifications"
}

func (f *fixture) inbox(t *testing.T) (rows, items int, kinds string) {
	t.Helper()
	f.pool.QueryRow(context.Background(), `SELECT count(*), coalesce(sum(items), 0), coalesce(string_agg(kind, ',' ORDER BY id), '') FROM inbox`).
		Scan(&rows, &items, &kinds)
	return
}

func item(sub, state, user string) string {
	return fmt.Sprintf(`{"subscriptionId":%q,"subscriptionExpirationDateTime":"2026-11-23T10:00:00.0000000Z","changeType":"updated","clientState":%q,
		"resource":"communications/presences/%s","tenantId":"t","resourceData":{"@odata.type":"#Microsoft.Graph.presence","@odata.id":"users/%s/presence","id":%q}}`,
		sub, state, user, user, user)
}

func TestValidationHandshakeEchoesTheDecodedToken(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/graph/notifications", "/graph/lifecycle"} {
		resp, err := http.Post(f.srv.URL+path+"?validationToken=Validation%3A%20Testing%20client%2Bapp%3C", "text/plain; charset=utf-8", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "Validation: Testing client+app<" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q %q", path, resp.StatusCode, b, resp.Header.Get("Content-Type"))
		}
	}
}

func TestOnlyGenuineItemsAreCommittedBeforeThe202(t *testing.T) {
	f := newFixture(t)
	body := `{"value":[` + strings.Join([]string{
		item("sub-1", "state-1", "u1"),   // genuine
		item("sub-1", "forged", "u2"),    // wrong clientState
		item("sub-9", "state-1", "u3"),   // unknown subscription
		item("sub-new", "state-2", "u4"), // subscription being created, genuine
		item("sub-1", "", "u5"),          // no clientState
		`{"subscriptionId":"sub-1","clientState":"state-1","lifecycleEvent":"reauthorizationRequired","tenantId":"t","subscriptionExpirationDateTime":"2026-11-23T10:00:00Z"}`,
		`"not an object"`,
	}, ",") + `],"validationTokens":["a.b.c"]}`
	if code, b := f.post(t, "/graph/notifications", body); code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", code, b)
	}
	rows, items, kinds := f.inbox(t)
	if rows != 2 || items != 3 || kinds != "change,lifecycle" && kinds != "lifecycle,change" {
		t.Fatalf("inbox: %d rows, %d items, kinds %s; want 2 rows (change, lifecycle) with 3 items", rows, items, kinds)
	}
	var payload string
	f.pool.QueryRow(context.Background(), `SELECT payload::text FROM inbox WHERE kind = 'change'`).Scan(&payload)
	var stored struct {
		Value            []map[string]any `json:"value"`
		ValidationTokens []string         `json:"validationTokens"`
	}
	json.Unmarshal([]byte(payload), &stored)
	if len(stored.Value) != 2 || stored.Value[0]["clientState"] != "state-1" || stored.Value[1]["subscriptionId"] != "sub-new" || len(stored.ValidationTokens) != 1 {
		t.Errorf("stored change payload = %s", payload)
	}

	// Only forgeries: still 202 (reveal nothing), nothing stored.
	if code, _ := f.post(t, "/graph/notifications", `{"value":[`+item("sub-1", "forged", "u1")+`]}`); code != http.StatusAccepted {
		t.Errorf("forged-only POST: %d", code)
	}
	if rows2, _, _ := f.inbox(t); rows2 != rows {
		t.Errorf("a forged POST added inbox rows")
	}
	for _, bad := range []string{`{`, `[]`, `{"value":null}`} {
		if code, _ := f.post(t, "/graph/notifications", bad); code != http.StatusBadRequest {
			t.Errorf("malformed %q: %d, want 400", bad, code)
		}
	}
}

// TestRefusedItemsAreCountedByReasonAndLoggedOncePerPost: what the door
// refuses is visible — counted by reason, and one log line per POST that
// names the reasons and the first subscriptions and tenants — without
// letting a flood of forged items write a line each.
func TestRefusedItemsAreCountedByReasonAndLoggedOncePerPost(t *testing.T) {
	f := newFixture(t)
	body := `{"value":[` + strings.Join([]string{
		item("sub-1", "state-1", "u1"), item("sub-1", "forged", "u2"), item("sub-1", "forged", "u3"),
		item("sub-9", "state-1", "u4"), item("sub-1", "", "u5"), `"not an object"`,
	}, ",") + `]}`
	if code, b := f.post(t, "/graph/notifications", body); code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", code, b)
	}
	got := map[string]float64{}
	families, _ := f.metrics.Gather()
	for _, mf := range families {
		if mf.GetName() != "presencebridge_graph_notification_items_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"accepted": 1, "client_state_mismatch": 2, "unknown_subscription": 1, "client_state_missing": 1, "malformed": 1}
	if !maps.Equal(got, want) {
		t.Errorf("items by outcome = %v, want %v", got, want)
	}
	lines := f.logs.Lines("items refused")
	if len(lines) != 1 || !strings.Contains(lines[0], `"items":5`) || !strings.Contains(lines[0], "sub-9") {
		t.Errorf("refusal log lines = %q, want one naming 5 items and sub-9", lines)
	}
}

func TestConcurrentPostsAreAllDurable(t *testing.T) {
	f := newFixture(t, func(d *Deps) { d.MaxRequests = 100 })
	var wg sync.WaitGroup
	codes := make([]int, 100)
	for i := range codes {
		wg.Go(func() {
			codes[i], _ = f.post(t, "/graph/notifications", `{"value":[`+item("sub-1", "state-1", fmt.Sprint("u", i))+`]}`)
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusAccepted {
			t.Fatalf("POST %d: %d", i, c)
		}
	}
	if rows, items, _ := f.inbox(t); rows != 100 || items != 100 {
		t.Errorf("inbox: %d rows, %d items; want 100 and 100", rows, items)
	}
}

func TestDatabaseDownMeans503NeverA202(t *testing.T) {
	f := newFixture(t)
	// sub-1 is now cached: the commit itself is what fails below.
	if code, _ := f.post(t, "/graph/notifications", `{"value":[`+item("sub-1", "state-1", "u1")+`]}`); code != http.StatusAccepted {
		t.Fatalf("warm-up POST: %d", code)
	}
	f.stopListening()
	f.pool.Close()
	f.subs.Close()
	for name, it := range map[string]string{"commit": item("sub-1", "state-1", "u1"), "lookup": item("sub-2", "state-1", "u1")} {
		code, _ := f.post(t, "/graph/notifications", `{"value":[`+it+`]}`)
		if code != http.StatusServiceUnavailable {
			t.Errorf("database down (%s): %d, want 503", name, code)
		}
	}
}
