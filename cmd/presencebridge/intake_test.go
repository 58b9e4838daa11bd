package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	"presencebridge/web/graphhook"
)

// Graph's notifications are looked up and committed on connections of
// their own: with every connection of the main pool taken — by processors,
// engine locks, token refreshes — a genuine notification of a subscription
// the receiver has not seen yet is still looked up, committed and answered
// 202; and lookups held up by a flood do not hold the commit up.
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
	post := func() (int, string) {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Post(srv.URL+"/graph/notifications", "application/json",
			strings.NewReader(`{"value":[{"subscriptionId":"sub-1","clientState":"state-1","changeType":"updated","tenantId":"t",
				"resource":"communications/presences/u1","resourceData":{"id":"u1"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	start := time.Now()
	if code, b := post(); code != http.StatusAccepted {
		t.Fatalf("with the main pool's %d connections taken: %d %s after %v, want 202", len(held), code, b, time.Since(start))
	}
	for _, c := range held {
		c.Release()
	}
	held = nil
	var items int
	if err := a.pool.QueryRow(ctx, `SELECT coalesce(sum(items), 0) FROM inbox`).Scan(&items); err != nil || items != 1 {
		t.Fatalf("inbox holds %d items (%v), want 1", items, err)
	}

	// Nor do lookups the receiver cannot finish — a flood of unknown ids
	// while the subscriptions are locked — hold the commit up: sub-1 is
	// known now, and its POSTs need the commit alone.
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	testkit.Exec(t, tx, `LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE`)
	done := make(chan struct{})
	var flood sync.WaitGroup
	for i := range 4 {
		flood.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				body := fmt.Sprintf(`{"value":[{"subscriptionId":"flood-%d-%d","clientState":"x","changeType":"updated","tenantId":"t"}]}`, i, n)
				if resp, err := http.Post(srv.URL+"/graph/notifications", "application/json", strings.NewReader(body)); err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	defer func() { close(done); tx.Rollback(ctx); flood.Wait() }()
	time.Sleep(graphhook.Deadline + 200*time.Millisecond) // the first lookups gave up, the next wait
	for range 3 {
		if code, b := post(); code != http.StatusAccepted {
			t.Fatalf("a known subscription's POST while lookups are held up: %d %s, want 202", code, b)
		}
	}
}
