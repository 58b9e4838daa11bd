package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"presencebridge/internal/config"
	"presencebridge/internal/store"
	"presencebridge/internal/store/schema"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/api"
)

// Graph's notifications are committed on connections of their own: with
// every connection of the main pool taken — by processors, engine locks,
// token refreshes — a genuine notification of a subscription the receiver
// has not seen yet is still looked up, committed and answered 202.
func TestTheWebRoleAcceptsGraphsNotificationsWhileItsMainPoolIsExhausted(t *testing.T) {
	ctx := t.Context()
	cfg, err := config.Load(map[string]string{"PB_ENV": "development", "PB_DATABASE_URL": freshDatabase(t, "intake_pool"),
		"PB_DB_MAX_CONNS": "6", "PB_LOG_LEVEL": "error", "PB_SEAL_KEYS": strings.TrimPrefix(testKey, "PB_SEAL_KEYS=")}, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(ctx, cfg, "web", ownServer)
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Up(ctx, a.pool, a.logger); err != nil {
		t.Fatal(err)
	}
	tenant := storetest.Tenant(t, a.pool, "Contoso")
	m, err := a.store.AddMonitor(ctx, tenant, "monitor@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, a.pool, `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, client_state_hash) VALUES ($1, $2, 'sub-1', 'r', $3)`,
		tenant, m.ID, store.ClientStateHash("state-1"))

	pctx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(pctx)
	p, err := startPipeline(gctx, g, a, roles["web"], api.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	p.mount(r)
	srv := httptest.NewServer(r)
	var held []*pgxpool.Conn
	t.Cleanup(func() {
		srv.Close()
		for _, c := range held {
			c.Release()
		}
		stop()
		g.Wait()
		a.Close()
	})

	for {
		actx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		c, err := a.pool.Acquire(actx)
		cancel()
		if err != nil {
			break
		}
		held = append(held, c)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(srv.URL+"/graph/notifications", "application/json",
		strings.NewReader(`{"value":[{"subscriptionId":"sub-1","clientState":"state-1","changeType":"updated","tenantId":"t",
			"resource":"communications/presences/u1","resourceData":{"id":"u1"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("with the main pool's %d connections taken: %d after %v, want 202", len(held), resp.StatusCode, time.Since(start))
	}
	for _, c := range held {
		c.Release()
	}
	held = nil
	var items int
	if err := a.pool.QueryRow(ctx, `SELECT coalesce(sum(items), 0) FROM inbox`).Scan(&items); err != nil || items != 1 {
		t.Fatalf("inbox holds %d items (%v), want 1", items, err)
	}
}
