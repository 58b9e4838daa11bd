package main

import (
	"context"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/certs"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/subscribe"
	"presencebridge/internal/tokens"
)

// graphClients builds Graph clients for the subscription engine: a
// monitor's from the token vault (refreshed under its row lock), the
// app-only reader from client credentials, per tenant.
type graphClients struct {
	a     *app
	vault *tokens.Vault
	creds tokens.Credentials
	id    *identity.Client

	mu      sync.Mutex
	readers map[uuid.UUID]*graph.Client
}

func (g *graphClients) base() string { return strings.TrimSuffix(g.a.cfg.GraphBaseURL, "/") + "/v1.0" }

func (g *graphClients) Monitor(ctx context.Context, tenantID, monitorID uuid.UUID) (graphapi.Subscriber, error) {
	return graph.New(graph.Options{BaseURL: g.base(), Token: func(ctx context.Context) (string, error) {
		return g.vault.MonitorToken(ctx, tenantID, monitorID)
	}})
}

func (g *graphClients) Reader(ctx context.Context, tenantID uuid.UUID) (graphapi.PresenceReader, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.readers[tenantID]; c != nil {
		return c, nil
	}
	var cached struct {
		mu  sync.Mutex
		tok identity.AppToken
	}
	c, err := graph.New(graph.Options{BaseURL: g.base(), Token: func(ctx context.Context) (string, error) {
		cached.mu.Lock()
		defer cached.mu.Unlock()
		if time.Until(cached.tok.Expiry) > 5*time.Minute {
			return cached.tok.AccessToken, nil
		}
		app, msTenant, err := g.creds(ctx, tenantID)
		if err != nil {
			return "", err
		}
		if cached.tok, err = g.id.AppTokenFor(ctx, app, msTenant); err != nil {
			return "", err
		}
		return cached.tok.AccessToken, nil
	}})
	if err != nil {
		return nil, err
	}
	g.readers[tenantID] = c
	return c, nil
}

// runEngine reconciles every active tenant each interval. Several workers
// may run it: a tenant is reconciled by whichever takes its advisory lock.
func runEngine(ctx context.Context, a *app, base string, interval time.Duration) error {
	id, err := identity.New(identity.Options{LoginURL: a.cfg.LoginBaseURL})
	if err != nil {
		return err
	}
	svc, err := a.onboardingService(base)
	if err != nil {
		return err
	}
	vault := tokens.New(a.store, id, svc.Credentials, nil)
	clients := &graphClients{a: a, vault: vault, creds: svc.Credentials, id: id, readers: map[uuid.UUID]*graph.Client{}}
	eng := subscribe.New(a.store, certs.New(a.store, nil), base+"/graph/notifications", base+"/graph/lifecycle", nil)
	rec := subscribe.NewReconciler(a.store, eng, clients, 0, a.logger)
	runOnSignal(ctx, nil, interval, func() {
		rows, err := a.pool.Query(ctx, `SELECT id FROM tenants WHERE status = 'active'`)
		if err != nil {
			return
		}
		var ids []uuid.UUID
		for rows.Next() {
			var t uuid.UUID
			if rows.Scan(&t) == nil {
				ids = append(ids, t)
			}
		}
		rows.Close()
		for _, t := range ids {
			reconcileLocked(ctx, a, rec, t)
		}
	})
	return nil
}

// reconcileLocked reconciles one tenant under a session advisory lock on
// a dedicated connection; another worker holding it means skip.
func reconcileLocked(ctx context.Context, a *app, rec *subscribe.Reconciler, tenant uuid.UUID) {
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		return
	}
	defer conn.Release()
	h := fnv.New64a()
	h.Write([]byte("presencebridge/reconcile/" + tenant.String()))
	key := int64(h.Sum64())
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil || !got {
		return
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	rep, err := rec.ReconcileTenant(ctx, tenant)
	if err != nil {
		a.logger.Warn("engine: tenant not fully reconciled", "tenant", tenant, "err", err)
	}
	if rep.Unmonitored > 0 {
		a.logger.Warn("engine: users without a monitor", "tenant", tenant, "unmonitored", rep.Unmonitored, "monitors_missing", rep.MonitorsMissing)
	}
}
