package enginetest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"presencebridge/internal/certs"
	"presencebridge/internal/engine"
	"presencebridge/internal/graph"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/testkit"
)

// simClients are Graph clients for one graphsim tenant: monitors sign in
// with their passwords (the token vault's job in the product).
type simClients struct {
	e       *env
	ten     graphsim.SeedTenant
	byID    map[uuid.UUID]graphsim.SeedUser // our monitor id → its account
	mu      sync.Mutex
	clients map[uuid.UUID]*graph.Client
}

func (s *simClients) tokenURL() string {
	return s.e.Base + "/" + s.ten.ID.String() + "/oauth2/v2.0/token"
}

func (s *simClients) Monitor(ctx context.Context, _ uuid.UUID, monitorID uuid.UUID) (graphapi.Subscriber, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[monitorID]; c != nil {
		return c, nil
	}
	acct := s.byID[monitorID]
	cfg := &oauth2.Config{ClientID: s.e.Seed.App.ClientID, ClientSecret: s.e.Seed.App.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: s.tokenURL(), AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"https://graph.microsoft.com/.default", "offline_access"}}
	tok, err := cfg.PasswordCredentialsToken(ctx, acct.UPN, acct.Password)
	if err != nil {
		return nil, err
	}
	c, _ := s.e.client(cfg.TokenSource(context.Background(), tok))
	s.clients[monitorID] = c
	return c, nil
}

func (s *simClients) Reader(ctx context.Context, _ uuid.UUID) (graphapi.PresenceReader, error) {
	c, _ := s.e.client(s.e.appTokensFor(s.ten))
	return c, nil
}

func TestReconcileShardsTwoThousandUsersOverFourMonitorsAndFailsOver(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ten, err := e.Sim.CreateTenant(2000, 5, e.Seed.App.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	st, _, tenant := ourTenant(t, ten.ID)
	pool := st.Pool()
	for _, u := range ten.Users {
		testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status) VALUES ($1, $2, $3, 'resolved')`, tenant, u.UPN, u.ID)
	}
	clients := &simClients{e: e, ten: ten, byID: map[uuid.UUID]graphsim.SeedUser{}, clients: map[uuid.UUID]*graph.Client{}}
	var monitors []uuid.UUID
	for i, acct := range ten.Monitors {
		m, err := st.AddMonitor(ctx, tenant, acct.UPN)
		if err != nil {
			t.Fatal(err)
		}
		clients.byID[m.ID] = acct
		monitors = append(monitors, m.ID)
		if i < 4 { // the fifth stays pending: the spare, authorized later
			testkit.Exec(t, pool, `UPDATE monitors SET status = 'authorized' WHERE id = $1`, m.ID)
		}
	}
	wh := testkit.NewNotificationReceiver(t)
	rec := engine.NewReconciler(st, engine.New(st, certs.New(st, e.Now), wh.URL, wh.URL, e.Now), clients, 0, nil)

	rep, err := rec.ReconcileTenant(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Users != 2000 || rep.Unmonitored != 0 || rep.Repaired != 2000 {
		t.Fatalf("report = %+v", rep)
	}
	ours := map[string]bool{}
	for _, m := range ten.Monitors {
		ours[m.ID.String()] = true
	}
	covered := func() map[string]int {
		t.Helper()
		seen := map[string]int{}
		for _, s := range e.Sim.Subscriptions() {
			if !ours[s.CreatorID] {
				continue
			}
			n := strings.Count(s.Resource, "'") / 2
			if n > 650 {
				t.Errorf("subscription %s covers %d users", s.ID, n)
			}
			for _, u := range ten.Users {
				if strings.Contains(s.Resource, u.ID.String()) {
					seen[u.ID.String()]++
				}
			}
		}
		return seen
	}
	subs := 0
	for _, s := range e.Sim.Subscriptions() {
		if ours[s.CreatorID] {
			subs++
			if n := strings.Count(s.Resource, "'") / 2; n < 499 || n > 501 {
				t.Errorf("subscription covers %d users, want 500 ± 1", n)
			}
		}
	}
	if seen := covered(); subs != 4 || len(seen) != 2000 {
		t.Fatalf("%d subscriptions covering %d users, want 4 covering 2000", subs, len(seen))
	}

	// Again: nothing to do.
	rep, _ = rec.ReconcileTenant(ctx, tenant)
	for m, o := range rep.Outcomes {
		if o != engine.Unchanged {
			t.Errorf("monitor %s: %s on a second pass", m, o)
		}
	}

	// A spare is authorized, then the first monitor loses its grant: its
	// 500 users move to the spare, nobody else moves.
	testkit.Exec(t, pool, `UPDATE monitors SET status = 'authorized' WHERE id = $1`, monitors[4])
	rec.ReconcileTenant(ctx, tenant)
	testkit.Exec(t, pool, `UPDATE monitors SET status = 'needs_reauth' WHERE id = $1`, monitors[0])
	rep, err = rec.ReconcileTenant(ctx, tenant)
	if err != nil || rep.Unmonitored != 0 || rep.Outcomes[monitors[4]] != engine.Created {
		t.Fatalf("after failover: %+v %v", rep, err)
	}
	var onSpare, onFailed int
	pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE monitor_id = $1), count(*) FILTER (WHERE monitor_id = $2) FROM directory_users WHERE tenant_id = $3`,
		monitors[4], monitors[0], tenant).Scan(&onSpare, &onFailed)
	if onSpare != 500 || onFailed != 0 {
		t.Errorf("after failover: spare %d users, failed monitor %d", onSpare, onFailed)
	}
	for _, m := range monitors[1:4] {
		if rep.Outcomes[m] != engine.Unchanged {
			t.Errorf("a healthy monitor's subscription changed: %s", rep.Outcomes[m])
		}
	}
}

// appTokensFor is a client-credentials token source for another tenant.
func (e *env) appTokensFor(ten graphsim.SeedTenant) oauth2.TokenSource {
	cc := clientcredentials.Config{ClientID: e.Seed.App.ClientID, ClientSecret: e.Seed.App.ClientSecret,
		TokenURL: e.Base + "/" + ten.ID.String() + "/oauth2/v2.0/token", Scopes: []string{"https://graph.microsoft.com/.default"},
		AuthStyle: oauth2.AuthStyleInParams}
	return cc.TokenSource(e.t.Context())
}
