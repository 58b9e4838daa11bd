package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// listAll pages through the tenant list by keyset, limit tenants a page,
// and returns the names in the order read.
func listAll(t *testing.T, st *store.Store, q store.TenantListQuery) []string {
	t.Helper()
	var names []string
	for pages := 0; ; pages++ {
		page, more, err := st.TenantList(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > q.Limit || pages > 20 {
			t.Fatalf("page of %d, limit %d, page %d", len(page), q.Limit, pages)
		}
		for _, p := range page {
			names = append(names, p.Name)
		}
		if !more {
			return names
		}
		c := page[len(page)-1].Cursor(q.Sort)
		q.After = &c
	}
}

// The console's list pages by name with a keyset: the pages together are
// every matching tenant once, in name order, however they are cut; the
// search matches name, Microsoft domain and admin e-mail in any case, its
// LIKE wildcards taken literally.
func TestTenantListPagesEveryMatchingTenantOnceInNameOrder(t *testing.T) {
	st, _ := storetest.New(t) // "Contoso"
	pool := st.Pool()
	for _, name := range []string{"fabrikam", "Adatum", "Contoso", "Northwind 100%", "northwind"} {
		storetest.Tenant(t, pool, name)
	}
	testkit.Exec(t, pool, `UPDATE tenants SET ms_domain = 'tailspin.example' WHERE name = 'Adatum'`)
	testkit.Exec(t, pool, `UPDATE tenants SET admin_email = 'it@woodgrove.example' WHERE name = 'fabrikam'`)

	list := func(search string, limit int) []string {
		t.Helper()
		return listAll(t, st, store.TenantListQuery{Search: search, Limit: limit})
	}
	all := list("", 100)
	if len(all) != 6 || all[0] != "Adatum" || all[5] != "Northwind 100%" {
		t.Fatalf("all tenants: %q", all)
	}
	for _, limit := range []int{1, 2, 4} {
		if got := list("", limit); !slices.Equal(got, all) {
			t.Errorf("pages of %d: %q, want %q", limit, got, all)
		}
	}
	for search, want := range map[string][]string{
		"CONTOSO":   {"Contoso", "Contoso"},
		"tailspin":  {"Adatum"},
		"woodgrove": {"fabrikam"},
		"100%":      {"Northwind 100%"},
		"%":         {"Northwind 100%"},
		"north":     {"northwind", "Northwind 100%"},
		"_":         nil,
	} {
		if got := list(search, 1); !slices.Equal(got, want) {
			t.Errorf("search %q: %q, want %q", search, got, want)
		}
	}
}

// Every order pages by keyset in both directions: the pages together are
// every tenant once, in the order's sequence (ties by name), however they
// are cut.
func TestTenantListSortsByStatusAndLastNotificationInBothDirectionsAcrossPages(t *testing.T) {
	st := storetest.Open(t, testkit.DB(t))
	pool := st.Pool()
	ctx := context.Background()
	now := time.Now()
	type tenant struct {
		name, status, health string
		last                 *time.Time
	}
	ago := func(d time.Duration) *time.Time { at := now.Add(-d); return &at }
	for _, x := range []tenant{
		{"Alpine", "active", "healthy", ago(time.Minute)},
		{"Blue Yonder", "active", "degraded", ago(3 * time.Hour)},
		{"Coho", "onboarding", "healthy", nil},
		{"Datum", "suspended", "healthy", ago(48 * time.Hour)},
		{"Erie", "deleted", "healthy", nil},
		{"Fourth Coffee", "active", "healthy", ago(time.Hour)},
		{"Graphic", "onboarding", "healthy", nil},
	} {
		id := storetest.Tenant(t, pool, x.name)
		testkit.Exec(t, pool, `UPDATE tenants SET status = $2, health = $3 WHERE id = $1`, id, x.status, x.health)
		if x.last != nil {
			m, err := st.AddMonitor(ctx, id, "monitor@"+x.name+".example")
			if err != nil {
				t.Fatal(err)
			}
			// Two subscriptions' worth: the latest counts.
			testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, last_notification_at) VALUES ($1, $2, 'r', $3)`,
				id, m.ID, *x.last)
			m2, err := st.AddMonitor(ctx, id, "second@"+x.name+".example")
			if err != nil {
				t.Fatal(err)
			}
			testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, last_notification_at) VALUES ($1, $2, 'r', $3)`,
				id, m2.ID, x.last.Add(-24*time.Hour))
		}
	}
	for _, c := range []struct {
		sort store.TenantSort
		want []string
	}{
		{store.SortByName, []string{"Alpine", "Blue Yonder", "Coho", "Datum", "Erie", "Fourth Coffee", "Graphic"}},
		{store.SortByStatus, []string{"Blue Yonder", "Coho", "Graphic", "Alpine", "Fourth Coffee", "Datum", "Erie"}},
		{store.SortByLastNotification, []string{"Coho", "Erie", "Graphic", "Datum", "Blue Yonder", "Fourth Coffee", "Alpine"}},
	} {
		for _, limit := range []int{1, 2, 3, 50} {
			if got := listAll(t, st, store.TenantListQuery{Sort: c.sort, Limit: limit}); !slices.Equal(got, c.want) {
				t.Errorf("%s, pages of %d: %q, want %q", c.sort, limit, got, c.want)
			}
			desc := slices.Clone(c.want)
			slices.Reverse(desc)
			if got := listAll(t, st, store.TenantListQuery{Sort: c.sort, Desc: true, Limit: limit}); !slices.Equal(got, desc) {
				t.Errorf("%s descending, pages of %d: %q, want %q", c.sort, limit, got, desc)
			}
		}
	}
}

// Each row's figures are the tenant's own: users monitored (resolved, on
// an authorized monitor) and unmonitored (resolved, on none or on one not
// authorized), monitors not authorized, its webhooks' dead and pending
// deliveries, its open alerts, its latest notification; another tenant's
// rows count for nothing.
func TestTenantListCountsEachTenantsUsersMonitorsBacklogAndAlerts(t *testing.T) {
	st, contoso := storetest.New(t)
	pool := st.Pool()
	ctx := context.Background()
	other := storetest.Tenant(t, pool, "Fabrikam")
	authorized, err := st.AddMonitor(ctx, contoso, "mon1@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := st.AddMonitor(ctx, contoso, "mon2@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMonitor(ctx, contoso, "mon3@contoso.example"); err != nil { // pending
		t.Fatal(err)
	}
	testkit.Exec(t, pool, `UPDATE monitors SET status = 'authorized' WHERE id = $1`, authorized.ID)
	testkit.Exec(t, pool, `UPDATE monitors SET status = 'needs_reauth' WHERE id = $1`, revoked.ID)
	users := func(tenant uuid.UUID, prefix, status string, monitor *uuid.UUID, n int) {
		testkit.Exec(t, pool, `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status, monitor_id)
			SELECT $1, $2 || i || '@x.example', gen_random_uuid(), $3, $4 FROM generate_series(1, $5) i`, tenant, prefix, status, monitor, n)
	}
	users(contoso, "on", "resolved", &authorized.ID, 5)
	users(contoso, "stranded", "resolved", &revoked.ID, 2)
	users(contoso, "spare", "resolved", nil, 1)
	users(contoso, "ghost", "not_found", nil, 4)
	users(contoso, "new", "pending", nil, 3)
	users(other, "x", "resolved", nil, 7)
	at := time.Now().Add(-5 * time.Minute).Truncate(time.Microsecond)
	testkit.Exec(t, pool, `INSERT INTO subscriptions (tenant_id, monitor_id, resource, last_notification_at) VALUES ($1, $2, 'r', $3)`,
		contoso, authorized.ID, at)

	if _, err := st.CreateEndpoint(ctx, contoso, "https://a.example/hook", "whsec_dGVzdA=="); err != nil {
		t.Fatal(err)
	}
	gone, err := st.CreateEndpoint(ctx, contoso, "https://b.example/hook", "whsec_dGVzdA==")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DisableEndpoint(ctx, gone.ID, "410"); err != nil {
		t.Fatal(err)
	}
	// Each a pending delivery to the first, a dead one to the disabled.
	publish(t, st, contoso, uuid.New(), "InACall")
	publish(t, st, contoso, uuid.New(), "InACall")
	for _, kind := range []string{"a", "b"} {
		if err := st.RaiseAlert(ctx, contoso, kind, "", "m", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.ResolveAlert(ctx, contoso, "b", ""); err != nil {
		t.Fatal(err)
	}
	if err := st.RaiseAlert(ctx, other, "a", "", "m", nil); err != nil {
		t.Fatal(err)
	}

	page, more, err := st.TenantList(ctx, store.TenantListQuery{Limit: 10})
	if err != nil || more || len(page) != 2 {
		t.Fatalf("list: %d tenants, more %v, %v", len(page), more, err)
	}
	got := page[0]
	want := store.TenantListItem{ID: contoso, Name: "Contoso", Status: "onboarding", Health: "healthy", Monitored: 5, Unmonitored: 3,
		MonitorsNeedingAction: 2, DeadDeliveries: 2, PendingDeliveries: 2, OpenAlerts: 1}
	if got.LastNotificationAt == nil || !got.LastNotificationAt.Equal(at) {
		t.Errorf("last notification %v, want %v", got.LastNotificationAt, at)
	}
	got.LastNotificationAt = nil
	if got != want {
		t.Errorf("Contoso's row:\n got %+v\nwant %+v", got, want)
	}
	if f := page[1]; f.Unmonitored != 7 || f.Monitored != 0 || f.OpenAlerts != 1 || f.MonitorsNeedingAction != 0 || f.LastNotificationAt != nil ||
		f.DeadDeliveries != 0 {
		t.Errorf("Fabrikam's row: %+v", f)
	}
}
