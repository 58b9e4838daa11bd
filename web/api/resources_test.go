package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/api/apitest"
)

// newResourceFixture is newFixture with the tenant's resources given
// their collaborators: res, when given, makes them over the fixture's
// store. Every answer is checked against the served description, and what
// the API logged is shown when the test fails.
func newResourceFixture(t *testing.T, res func(*store.Store) Resources) *fixture {
	t.Helper()
	f := newFixture(t)
	f.srv.Close()
	logs := &testkit.Logs{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the API logged:\n%s", logs)
		}
	})
	var rs Resources
	if res != nil {
		rs = res(f.st)
	}
	d := Deps{Store: f.st, Keys: f.keys, Logger: slog.New(slog.NewTextHandler(logs, nil)), RateLimit: DefaultRateLimit}
	f.srv = httptest.NewServer(apitest.Described(t, resourceRoutes(d, rs)))
	t.Cleanup(f.srv.Close)
	return f
}

// resourceRoutes serves the API under /api/v1 as the product does (Routes),
// the tenant's resources with res.
func resourceRoutes(d Deps, res Resources) http.Handler {
	d.Resources = res
	r := chi.NewRouter()
	r.Route("/api/v1", Routes(d))
	return r
}

// keyWith is a new key of the fixture's tenant holding only scopes.
func (f *fixture) keyWith(t *testing.T, scopes ...string) string {
	t.Helper()
	key, _, err := f.st.CreateAPIKey(context.Background(), f.tenant, store.NewAPIKey{Name: "limited", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// activate makes the fixture's tenant active, connected to a Microsoft
// tenant, as a completed onboarding leaves it.
func (f *fixture) activate(t *testing.T) uuid.UUID {
	t.Helper()
	ms := uuid.New()
	testkit.Exec(t, f.st.Pool(), `INSERT INTO onboarding (tenant_id, invite_expires_at) VALUES ($1, now()) ON CONFLICT DO NOTHING`, f.tenant)
	if err := f.st.ConsentGranted(context.Background(), f.tenant, ms); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE tenants SET status = 'active', ms_domain = 'contoso.example' WHERE id = $1`, f.tenant)
	return ms
}

// monitor adds an authorized presence monitor to tenant.
func (f *fixture) monitor(t *testing.T, tenant uuid.UUID, upn string) uuid.UUID {
	t.Helper()
	m, err := f.st.AddMonitor(context.Background(), tenant, upn)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE monitors SET status = 'authorized', authorized_at = now() WHERE id = $1`, m.ID)
	return m.ID
}

// resolved puts upns on tenant's roster, resolved to new object ids (in
// the order given) and, with a monitor, covered by it.
func (f *fixture) resolved(t *testing.T, tenant uuid.UUID, monitor *uuid.UUID, upns ...string) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	entries := make([]store.DirectoryEntry, len(upns))
	for i, u := range upns {
		entries[i] = store.DirectoryEntry{UPN: u, ExternalID: "tel-" + u}
	}
	if _, err := f.st.UpsertDirectoryUsers(ctx, tenant, store.SourceList, entries); err != nil {
		t.Fatal(err)
	}
	rows, err := f.st.DirectoryUsers(ctx, tenant, false)
	if err != nil {
		t.Fatal(err)
	}
	rowID := map[string]uuid.UUID{}
	for _, r := range rows {
		rowID[r.UPN] = r.ID
	}
	ids := make([]uuid.UUID, len(upns))
	res := make([]store.Resolution, len(upns))
	mons := make([]*uuid.UUID, len(upns))
	for i, u := range upns {
		ids[i] = uuid.New()
		res[i] = store.Resolution{ID: rowID[u], Status: store.UserResolved, ObjectID: &ids[i], GraphUPN: u, DisplayName: "User " + u}
		mons[i] = monitor
	}
	if err := f.st.RecordResolutions(ctx, tenant, res); err != nil {
		t.Fatal(err)
	}
	if monitor != nil {
		if err := f.st.AssignUsers(ctx, tenant, ids, mons); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// presence records an observed presence of user, as the processor does,
// with rich presence when given.
func (f *fixture) presence(t *testing.T, tenant, user uuid.UUID, availability, activity, state string, rich ...presence.Rich) time.Time {
	t.Helper()
	at := time.Now().UTC().Truncate(time.Millisecond)
	var r presence.Rich
	if len(rich) > 0 {
		r = rich[0]
	}
	err := f.st.InTx(context.Background(), func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(context.Background(), store.PresenceChange{TenantID: tenant, UserID: user,
			Availability: availability, Activity: activity, Rich: r, MappedState: state, Source: "notification", ObservedAt: at})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// audited returns the tenant's newest audit entry.
func (f *fixture) audited(t *testing.T) store.AuditEntry {
	t.Helper()
	log, err := f.st.AuditLog(context.Background(), f.tenant, 1)
	if err != nil || len(log) == 0 {
		t.Fatalf("audit log: %v, %v", log, err)
	}
	return log[0]
}

func TestEveryTenantResourceNeedsAKeyAndItsScope(t *testing.T) {
	f := newResourceFixture(t, nil)
	weak := f.keyWith(t, store.ScopeEventsRead)
	id := uuid.NewString()
	for _, c := range []struct{ method, path, body, scope string }{
		{"GET", "/api/v1/tenant", "", store.ScopePresenceRead},
		{"GET", "/api/v1/users", "", store.ScopePresenceRead},
		{"GET", "/api/v1/users/" + id, "", store.ScopePresenceRead},
		{"POST", "/api/v1/users:bulk", `{"users":[{"upn":"a@contoso.example"}]}`, store.ScopeUsersWrite},
		{"DELETE", "/api/v1/users/" + id, "", store.ScopeUsersWrite},
		{"GET", "/api/v1/users/source", "", store.ScopePresenceRead},
		{"PUT", "/api/v1/users/source", `{"kind":"list"}`, store.ScopeUsersWrite},
		{"GET", "/api/v1/users/" + id + "/presence", "", store.ScopePresenceRead},
		{"POST", "/api/v1/presence:batch", `{"ids":["` + id + `"]}`, store.ScopePresenceRead},
		{"GET", "/api/v1/presence", "", store.ScopePresenceRead},
		{"POST", "/api/v1/sync", `{}`, store.ScopePresenceWrite},
		{"GET", "/api/v1/operations/" + id, "", store.ScopePresenceWrite},
		{"GET", "/api/v1/monitors", "", store.ScopePresenceRead},
		{"POST", "/api/v1/monitors/" + id + "/link", "", store.ScopeAdmin},
	} {
		if resp, _ := f.as(t, "", c.method, c.path, c.body); resp.StatusCode != 401 {
			t.Errorf("%s %s without a key: %d, want 401", c.method, c.path, resp.StatusCode)
		}
		resp, p := f.as(t, weak, c.method, c.path, c.body)
		if detail, _ := p["detail"].(string); resp.StatusCode != 403 || !strings.Contains(detail, c.scope) {
			t.Errorf("%s %s with events:read only: %d %v, want 403 naming %s", c.method, c.path, resp.StatusCode, p, c.scope)
		}
	}
}

func TestAStoreFailureIsA503WithRetryAfter(t *testing.T) {
	f := newResourceFixture(t, nil)
	testkit.Exec(t, f.st.Pool(), `ALTER TABLE directory_users RENAME TO directory_users_gone`)
	for _, path := range []string{"/api/v1/users", "/api/v1/presence", "/api/v1/tenant"} {
		resp, p := f.as(t, f.key, "GET", path, "")
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || p["detail"] == nil {
			t.Errorf("GET %s with its table gone: %d %v", path, resp.StatusCode, p)
		}
	}
}
