package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"presencebridge/internal/config"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/internal/tokens"
)

// Two worker processes share one database and graphsim: each tenant is
// worked on by one of them at a time, so each subscription is renewed once
// per cycle; a killed worker's tenants are taken over by the other.
func TestTwoWorkerProcessesRenewEachSubscriptionOncePerCycle(t *testing.T) {
	ctx := t.Context()
	// graphsim on loopback, counting renewals (PATCH) per subscription.
	sim := graphsim.New(graphsim.Options{})
	var mu sync.Mutex
	patches := map[string]int{}
	gs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/subscriptions/") {
			mu.Lock()
			patches[path.Base(r.URL.Path)]++
			mu.Unlock()
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(gs.Close)
	sim.SetBaseURL(gs.URL)
	go sim.Run(ctx)
	seed := graphsim.GenerateSeed(1, 40, 2, 11)
	if err := sim.Apply(seed); err != nil {
		t.Fatal(err)
	}
	ten := seed.Tenants[0]
	// The public receiver: answers Graph's validation handshakes.
	hook := testkit.NewNotificationReceiver(t)

	dsn := freshDatabase(t, "two_workers")
	env := []string{"PB_ENV=development", testKey, "PB_DATABASE_URL=" + dsn, "PB_BASE_URL=" + hook.Base,
		"PB_LOGIN_BASE_URL=" + gs.URL, "PB_GRAPH_BASE_URL=" + gs.URL, "PB_MS_CLIENT_ID=" + seed.App.ClientID,
		"PB_MS_CLIENT_SECRET=" + seed.App.ClientSecret, "PB_ENGINE_INTERVAL=1s"}
	workers := []*process{startProcess(t, env, "worker"), startProcess(t, env, "worker")}
	for _, w := range workers { // PB_BASE_URL is the receiver's, so no /readyz to poll: started is enough
		select {
		case <-w.url:
		case <-w.exited:
			t.Fatalf("worker exited: %v\n%s", w.err, w.log())
		case <-time.After(30 * time.Second):
			t.Fatalf("worker did not start:\n%s", w.log())
		}
	}

	// A tenant as onboarding leaves it: 40 users, two monitors signed in.
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool, serveRing(t))
	tenant := storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET ms_tenant_id = $2, status = 'active' WHERE id = $1`, tenant, ten.ID)
	for _, u := range ten.Users {
		testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status) VALUES ($1, $2, $3, 'resolved')`, tenant, u.UPN, u.ID)
	}
	idc, _ := identity.New(identity.Options{LoginURL: gs.URL})
	for _, acct := range ten.Monitors {
		m, err := st.AddMonitor(ctx, tenant, acct.UPN)
		if err != nil {
			t.Fatal(err)
		}
		g, err := idc.PasswordOnce(ctx, identity.App{ClientID: seed.App.ClientID, ClientSecret: seed.App.ClientSecret}, ten.ID.String(), acct.UPN, acct.Password)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AuthorizeMonitor(ctx, tenant, m.ID, store.MonitorGrant{ObjectID: g.Account.ObjectID, DisplayName: g.Account.Name,
			Method: "password", RefreshToken: g.RefreshToken, AccessToken: g.AccessToken, Expiry: g.Expiry}); err != nil {
			t.Fatal(err)
		}
	}

	waitUntil := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(within); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; worker logs:\n%s\n%s", what, workers[0].log(), workers[1].log())
			}
		}
	}
	count := func(sql string) int {
		var n int
		pool.QueryRow(ctx, sql).Scan(&n)
		return n
	}
	waitUntil("two subscriptions covering the tenant", 30*time.Second, func() bool {
		return count(`SELECT count(*) FROM subscriptions WHERE graph_id IS NOT NULL AND user_count = 20`) == 2
	})
	var graphIDs []string
	rows, _ := pool.Query(ctx, `SELECT graph_id FROM subscriptions`)
	for rows.Next() {
		var id string
		rows.Scan(&id)
		graphIDs = append(graphIDs, id)
	}
	rows.Close()

	// A cycle: both subscriptions come due (as 35–45 minutes would make
	// them); the workers pass every second; each is renewed exactly once.
	cycle := func(n int, live string) {
		t.Helper()
		testkit.Exec(t, pool, `UPDATE subscriptions SET expires_at = now() + interval '5 minutes'`)
		waitUntil("renewals", 30*time.Second, func() bool {
			return count(`SELECT count(*) FROM subscriptions WHERE expires_at > now() + interval '30 minutes'`) == 2
		})
		time.Sleep(3 * time.Second) // three more passes of each worker: no second renewal
		mu.Lock()
		defer mu.Unlock()
		for _, id := range graphIDs {
			if patches[id] != n {
				t.Fatalf("cycle %d (%s): subscription %s renewed %d times in all, want %d", n, live, id, patches[id], n)
			}
		}
	}
	for n := 1; n <= 3; n++ {
		cycle(n, "both workers")
	}
	// One worker is killed outright: the other takes the tenant over.
	workers[0].cmd.Process.Kill()
	<-workers[0].exited
	cycle(4, "one worker killed")
	if n := count(`SELECT sum(renewals) FROM subscriptions`); n != 8 {
		t.Errorf("renewals recorded = %d, want 8", n)
	}
}

// Repairs read presence with the tenant's app-only token only where it
// carries Presence.Read.All (application); otherwise with a monitor's
// delegated token.
func TestRepairReaderFallsBackToAMonitorWithoutTheApplicationPermission(t *testing.T) {
	for _, c := range []struct {
		name  string
		roles []string
	}{
		{"app-only", []string{"User.Read.All", "Presence.Read.All"}},
		{"monitor", []string{"User.Read.All"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			sim := graphsim.New(graphsim.Options{})
			gs, err := sim.Start(ctx, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			seed := graphsim.GenerateSeed(1, 5, 1, 3)
			seed.App.Application = c.roles
			if err := sim.Apply(seed); err != nil {
				t.Fatal(err)
			}
			ten := seed.Tenants[0]
			pool := testkit.DB(t)
			st := storetest.Open(t, pool)
			tenant := storetest.Tenant(t, pool, "Contoso")
			testkit.Exec(t, pool, `UPDATE tenants SET ms_tenant_id = $2, status = 'active' WHERE id = $1`, tenant, ten.ID)
			msApp := identity.App{ClientID: seed.App.ClientID, ClientSecret: seed.App.ClientSecret}
			idc, _ := identity.New(identity.Options{LoginURL: gs})
			m, err := st.AddMonitor(ctx, tenant, ten.Monitors[0].UPN)
			if err != nil {
				t.Fatal(err)
			}
			g, err := idc.PasswordOnce(ctx, msApp, ten.ID.String(), ten.Monitors[0].UPN, ten.Monitors[0].Password)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.AuthorizeMonitor(ctx, tenant, m.ID, store.MonitorGrant{ObjectID: g.Account.ObjectID, Method: "password",
				RefreshToken: g.RefreshToken, AccessToken: g.AccessToken, Expiry: g.Expiry}); err != nil {
				t.Fatal(err)
			}
			creds := func(context.Context, uuid.UUID) (identity.App, string, error) { return msApp, ten.ID.String(), nil }
			gc := newGraphClients(&config.Config{GraphBaseURL: gs}, st, tokens.New(st, idc, creds, nil), creds, idc, nil)
			r, err := gc.Reader(ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := r.GetPresences(ctx, []string{ten.Users[0].ID.String(), ten.Users[1].ID.String()})
			if err != nil || len(ps) != 2 {
				t.Fatalf("presence read for the repair: %d, %v", len(ps), err)
			}
		})
	}
}
