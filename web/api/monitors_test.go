package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/links"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

func TestMonitorsAreListedWithStatusReasonAndTheUsersTheyCover(t *testing.T) {
	f := newResourceFixture(t, nil)
	m := f.monitor(t, f.tenant, "monitor1@contoso.example")
	f.resolved(t, f.tenant, &m, "alice@contoso.example", "bob@contoso.example")
	lapsed, err := f.st.AddMonitor(context.Background(), f.tenant, "monitor2@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, f.st.Pool(), `UPDATE monitors SET status = 'needs_reauth', last_error = 'AADSTS50173: the grant was revoked' WHERE id = $1`, lapsed.ID)
	code, out := f.do(t, "GET", "/api/v1/monitors", "")
	data, _ := out["data"].([]any)
	if code != 200 || len(data) != 2 {
		t.Fatalf("GET /monitors: %d %v", code, out)
	}
	first, second := data[0].(map[string]any), data[1].(map[string]any)
	if first["id"] != m.String() || first["status"] != "authorized" || first["users"] != 2.0 || first["capacity"] != 650.0 ||
		first["reason"] != nil || first["authorizedAt"] == nil {
		t.Errorf("authorized monitor: %v", first)
	}
	if second["status"] != "needs_reauth" || second["users"] != 0.0 || second["capacity"] != 0.0 ||
		!strings.Contains(second["reason"].(string), "AADSTS50173") {
		t.Errorf("lapsed monitor: %v", second)
	}
}

func TestAMonitorsSignInLinkIsOnboardingsCopyURLAndIsAuditedWithoutIt(t *testing.T) {
	var svc *onboarding.Service
	f := newResourceFixture(t, func(st *store.Store) Resources {
		svc = onboarding.New(st, nil, links.New(storetest.Ring(t), nil), onboarding.Config{BaseURL: "https://bridge.example"})
		return Resources{Links: svc}
	})
	f.activate(t)
	m, err := f.st.AddMonitor(context.Background(), f.tenant, "monitor@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	code, out := f.do(t, "POST", "/api/v1/monitors/"+m.ID.String()+"/link", "")
	link, _ := out["url"].(string)
	expires, _ := time.Parse(time.RFC3339, out["expiresAt"].(string))
	if code != 200 || !strings.HasPrefix(link, "https://bridge.example/onboarding/m/") || time.Until(expires) < 71*time.Hour {
		t.Fatalf("POST link: %d %v", code, out)
	}
	token := strings.TrimPrefix(link, "https://bridge.example/onboarding/m/")
	if _, opened, err := svc.OpenMonitorLink(context.Background(), token); err != nil || opened.ID != m.ID {
		t.Errorf("the link does not open the monitor's sign-in: %+v, %v", opened, err)
	}
	a := f.audited(t)
	if a.Action != "monitor.link_created" || a.Detail["monitor"] != m.ID.String() || strings.Contains(mustJSON(t, a.Detail), token) {
		t.Errorf("audit: %+v", a)
	}
	// presence:read lists monitors but may not make links.
	reader := f.keyWith(t, store.ScopePresenceRead)
	if resp, _ := f.as(t, reader, "POST", "/api/v1/monitors/"+m.ID.String()+"/link", ""); resp.StatusCode != 403 {
		t.Errorf("a presence:read key made a link: %d", resp.StatusCode)
	}
}

func TestAnotherTenantsOrARemovedMonitorHasNoLink(t *testing.T) {
	f := newResourceFixture(t, func(*store.Store) Resources { return Resources{Links: noLinks{}} })
	other := storetest.Tenant(t, f.st.Pool(), "Fabrikam")
	theirs := f.monitor(t, other, "monitor@fabrikam.example")
	mine := f.monitor(t, f.tenant, "monitor@contoso.example")
	testkit.Exec(t, f.st.Pool(), `UPDATE monitors SET removed_at = now() WHERE id = $1`, mine)
	for _, id := range []string{theirs.String(), mine.String(), uuid.NewString(), "not-an-id"} {
		if code, p := f.do(t, "POST", "/api/v1/monitors/"+id+"/link", ""); code != 404 || p["title"] != "Not Found" {
			t.Errorf("POST /monitors/%s/link: %d %v", id, code, p)
		}
	}
	if _, out := f.do(t, "GET", "/api/v1/monitors", ""); len(out["data"].([]any)) != 0 {
		t.Errorf("monitors of another tenant, or removed, listed: %v", out)
	}
}

// noLinks makes links that nobody may ask for.
type noLinks struct{}

func (noLinks) MonitorLink(context.Context, uuid.UUID, uuid.UUID) (string, time.Time, error) {
	panic("a link was made for a monitor that is not the tenant's")
}
