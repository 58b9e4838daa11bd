package api

import (
	"context"
	"errors"
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

// copyURLs is the onboarding service that makes monitors' links, as the
// web role gives it to the API, at https://bridge.example.
func copyURLs(t *testing.T, st *store.Store) *onboarding.Service {
	return onboarding.New(st, nil, links.New(storetest.Ring(t), nil), onboarding.Config{BaseURL: "https://bridge.example"})
}

func TestAMonitorsSignInLinkIsCopyURLsOneWorkingLinkAndIsAuditedWithoutIt(t *testing.T) {
	var svc *onboarding.Service
	f := newResourceFixture(t, func(st *store.Store) Resources {
		svc = copyURLs(t, st)
		return Resources{Links: svc}
	})
	f.activate(t)
	m, err := f.st.AddMonitor(context.Background(), f.tenant, "monitor@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	link := func() string {
		t.Helper()
		code, out := f.do(t, "POST", "/api/v1/monitors/"+m.ID.String()+"/link", "")
		link, _ := out["url"].(string)
		expires, _ := time.Parse(time.RFC3339, out["expiresAt"].(string))
		if code != 200 || !strings.HasPrefix(link, "https://bridge.example/onboarding/m/") || time.Until(expires) < 71*time.Hour {
			t.Fatalf("POST link: %d %v", code, out)
		}
		return strings.TrimPrefix(link, "https://bridge.example/onboarding/m/")
	}
	first := link()
	a := f.audited(t)
	if a.Action != "monitor.link_created" || a.Detail["monitor"] != m.ID.String() || a.Detail["earlierLinksWithdrawn"] != true ||
		strings.Contains(mustJSON(t, a.Detail), first) {
		t.Errorf("audit: %+v", a)
	}
	// Asking again, as pressing the portal's Copy URL again, withdraws the
	// first link: one works at a time.
	second := link()
	if _, _, err := svc.OpenMonitorLink(context.Background(), first); !errors.Is(err, onboarding.ErrLinkRevoked) {
		t.Errorf("the first link after a second was made: %v, want it withdrawn", err)
	}
	if _, opened, err := svc.OpenMonitorLink(context.Background(), second); err != nil || opened.ID != m.ID {
		t.Errorf("the second link does not open the monitor's sign-in: %+v, %v", opened, err)
	}
	// presence:read lists monitors but may not make links.
	reader := f.keyWith(t, store.ScopePresenceRead)
	if resp, _ := f.as(t, reader, "POST", "/api/v1/monitors/"+m.ID.String()+"/link", ""); resp.StatusCode != 403 {
		t.Errorf("a presence:read key made a link: %d", resp.StatusCode)
	}
}

func TestAnotherTenantsOrARemovedMonitorHasNoLink(t *testing.T) {
	f := newResourceFixture(t, func(st *store.Store) Resources { return Resources{Links: copyURLs(t, st)} })
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
