package tenantview_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

func TestATenantOnOurAppHasNoOwnRegistrationToShow(t *testing.T) {
	f := newFixture(t)
	a, err := f.r.AppRegistration(context.Background(), f.tenant, time.Now())
	if err != nil || a.Own || a.Forecast != nil || a.Expired(time.Now()) {
		t.Errorf("%+v, %v", a, err)
	}
}

func TestAnOwnAppsSecretShowsTheWarningInForceAndTheForecastOfAll(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	expires := now.Add(5 * 24 * time.Hour)
	testkit.Exec(t, f.st.Pool(), `INSERT INTO tenant_apps (tenant_id, client_id, app_tenant_id, secret_expires_at, secret_expiry_source)
		VALUES ($1, gen_random_uuid(), gen_random_uuid(), $2, 'graph')`, f.tenant, expires)
	f.monitor(t, "fine@contoso.example", store.MonitorAuthorized)
	f.monitor(t, "stale@contoso.example", store.MonitorNeedsUpdate)
	a, err := f.r.AppRegistration(context.Background(), f.tenant, now)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Own || a.ExpirySource != "graph" || a.Stage != 7 || a.Expired(now) || !a.Expired(expires) {
		t.Errorf("%+v", a)
	}
	// 30 and 7 days before: due (sent or being sent); 1 day before: ahead.
	want := fmt.Sprint([]string{"30 2026-11-07 true", "7 2026-11-30 true", "1 2026-12-06 false"})
	var got []string
	for _, w := range a.Forecast {
		got = append(got, fmt.Sprintf("%d %s %v", w.Days, w.At.Format("2006-01-02"), w.Due))
	}
	if fmt.Sprint(got) != want {
		t.Errorf("forecast %v, want %s", got, want)
	}
	if fmt.Sprint(a.NeedsUpdate) != "[stale@contoso.example]" {
		t.Errorf("needs update: %v", a.NeedsUpdate)
	}
}
