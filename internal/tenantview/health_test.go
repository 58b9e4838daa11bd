package tenantview_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// fixture is a store on a fresh database with one tenant, made as
// onboarding makes them (with its onboarding row).
type fixture struct {
	st     *store.Store
	r      *tenantview.Reader
	tenant uuid.UUID
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	st := storetest.Open(t, testkit.DB(t))
	ten, err := st.CreateTenant(context.Background(), "Contoso", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return fixture{st: st, r: tenantview.New(st), tenant: ten.ID}
}

// monitor adds a monitor of status to the tenant and returns its id.
func (f fixture) monitor(t *testing.T, upn, status string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := f.st.Pool().QueryRow(context.Background(), `INSERT INTO monitors (tenant_id, upn, status) VALUES ($1, $2, $3) RETURNING id`,
		f.tenant, upn, status).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// users adds n roster entries to tenant with status, on monitor (nil:
// none), named prefix1@…, prefix2@… in entry order.
func users(t *testing.T, st *store.Store, tenant uuid.UUID, prefix, status string, monitor *uuid.UUID, n int) {
	t.Helper()
	testkit.Exec(t, st.Pool(), `INSERT INTO directory_users (tenant_id, upn, object_id, resolution_status, monitor_id)
		SELECT $1, $2 || i || '@contoso.example', CASE WHEN $3 = 'resolved' THEN gen_random_uuid() END, $3, $4
		FROM generate_series(1, $5) i ORDER BY i`, tenant, prefix, status, monitor, n)
}

func TestHealthCountsUsersByWhetherAnAuthorizedMonitorCoversThem(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	authorized := f.monitor(t, "m1@contoso.example", store.MonitorAuthorized)
	revoked := f.monitor(t, "m2@contoso.example", store.MonitorNeedsReauth)
	removed := f.monitor(t, "m3@contoso.example", store.MonitorAuthorized)
	testkit.Exec(t, f.st.Pool(), `UPDATE monitors SET removed_at = now() WHERE id = $1`, removed)
	users(t, f.st, f.tenant, "pending", store.UserPending, nil, 2)
	users(t, f.st, f.tenant, "covered", store.UserResolved, &authorized, 3)
	users(t, f.st, f.tenant, "revoked", store.UserResolved, &revoked, 2)
	users(t, f.st, f.tenant, "leaving", store.UserResolved, &removed, 1)
	users(t, f.st, f.tenant, "unassigned", store.UserResolved, nil, 1)
	users(t, f.st, f.tenant, "missing", store.UserNotFound, nil, 25)
	users(t, f.st, f.tenant, "disabled", store.UserDisabled, nil, 1)
	users(t, f.st, f.tenant, "twice", store.UserDuplicate, nil, 1)
	other := storetest.Tenant(t, f.st.Pool(), "Fabrikam")
	users(t, f.st, other, "other", store.UserResolved, nil, 7)

	h, err := f.r.Health(ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	want := store.UserCounts{Total: 36, Monitored: 3, Unmonitored: 4, Unresolved: 27, Pending: 2}
	if h.Roster.Users != want || h.Status.Users != want {
		t.Errorf("users: roster %+v, status %+v; want %+v", h.Roster.Users, h.Status.Users, want)
	}
	wantByStatus := map[string]int{store.UserPending: 2, store.UserResolved: 7, store.UserNotFound: 25, store.UserDisabled: 1, store.UserDuplicate: 1}
	if len(h.Roster.Counts) != len(wantByStatus) || h.Roster.Total != 36 {
		t.Errorf("by status %v (total %d), want %v", h.Roster.Counts, h.Roster.Total, wantByStatus)
	}
	for s, n := range wantByStatus {
		if h.Roster.Counts[s] != n {
			t.Errorf("%s: %d, want %d", s, h.Roster.Counts[s], n)
		}
	}
	// A monitor being removed is not counted among the tenant's monitors.
	if h.Monitors[store.MonitorAuthorized] != 1 || h.Monitors[store.MonitorNeedsReauth] != 1 || h.MonitorCount() != 2 {
		t.Errorf("monitors %v", h.Monitors)
	}
}

func TestHealthListsTheFirstProblemEntriesInEntryOrderAndNoMore(t *testing.T) {
	f := newFixture(t)
	users(t, f.st, f.tenant, "missing", store.UserNotFound, nil, 15)
	users(t, f.st, f.tenant, "fine", store.UserResolved, nil, 5)
	users(t, f.st, f.tenant, "pending", store.UserPending, nil, 10)
	h, err := f.r.Health(context.Background(), f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Roster.Problems) != roster.SummaryProblems {
		t.Fatalf("%d problems listed, want the first %d of 25", len(h.Roster.Problems), roster.SummaryProblems)
	}
	// Entry order across both kinds: the 15 not found, then the first 5
	// pending; none of the resolved.
	for i, u := range h.Roster.Problems {
		want, status := "missing", store.UserNotFound
		n := i + 1
		if i >= 15 {
			want, status, n = "pending", store.UserPending, i-14
		}
		if u.UPN != fmt.Sprintf("%s%d@contoso.example", want, n) || u.Status != status {
			t.Errorf("problem %d: %s (%s), want %s%d@contoso.example (%s)", i, u.UPN, u.Status, want, n, status)
		}
	}
	if h.Roster.Users.Unresolved != 15 || h.Roster.Users.Pending != 10 {
		t.Errorf("counts %+v: the list's bound must not bound them", h.Roster.Users)
	}
}

func TestHealthShowsOnlyOpenAlertsNewestFirst(t *testing.T) {
	f := newFixture(t)
	pool := f.st.Pool()
	testkit.Exec(t, pool, `INSERT INTO alerts (tenant_id, kind, subject, message, raised_at, resolved_at)
		SELECT $1, 'monitor_needs_reauth', 'm' || i || '@contoso.example', 'Sign in again.', now() - i * interval '1 day', now() - i * interval '1 hour'
		FROM generate_series(1, 50) i`, f.tenant)
	testkit.Exec(t, pool, `INSERT INTO alerts (tenant_id, kind, subject, message, raised_at) VALUES
		($1, 'users_unresolved', '', 'Older.', now() - interval '2 hours'), ($1, 'tenant_access', 'consent', 'Newer.', now() - interval '1 hour')`, f.tenant)
	other := storetest.Tenant(t, pool, "Fabrikam")
	testkit.Exec(t, pool, `INSERT INTO alerts (tenant_id, kind, message) VALUES ($1, 'users_unresolved', 'Not ours.')`, other)
	h, err := f.r.Health(context.Background(), f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Alerts) != 2 || h.Alerts[0].Message != "Newer." || h.Alerts[1].Message != "Older." {
		t.Errorf("alerts %+v", h.Alerts)
	}
}

func TestHealthSaysAnActiveTenantWithBrokenAccessIsDegraded(t *testing.T) {
	f := newFixture(t)
	testkit.Exec(t, f.st.Pool(), `UPDATE tenants SET status = 'active' WHERE id = $1`, f.tenant)
	if _, err := f.st.SetTenantDegraded(context.Background(), f.tenant, "consent_revoked", "AADSTS65001"); err != nil {
		t.Fatal(err)
	}
	h, err := f.r.Health(context.Background(), f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if h.Tenant.Name != "Contoso" || h.Status.Status != store.TenantDegraded || h.Status.Lifecycle != store.TenantActive ||
		h.Status.Condition != "consent_revoked" || h.Status.Reason != "AADSTS65001" {
		t.Errorf("tenant %+v, status %+v", h.Tenant, h.Status)
	}
	if h.Consent.Status != "pending" {
		t.Errorf("consent %q: onboarding recorded none yet", h.Consent.Status)
	}
}

func TestConsentOfATenantMadeWithoutOnboardingShowsInItsMicrosoftTenant(t *testing.T) {
	st := storetest.Open(t, testkit.DB(t))
	ctx := context.Background()
	id := storetest.Tenant(t, st.Pool(), "Demo")
	h, err := tenantview.New(st).Health(ctx, id)
	if err != nil || h.Consent.Status != "pending" {
		t.Fatalf("not connected: %q, %v", h.Consent.Status, err)
	}
	ms := uuid.New()
	if err := st.ConsentGranted(ctx, id, ms); err != nil {
		t.Fatal(err)
	}
	h, err = tenantview.New(st).Health(ctx, id)
	if err != nil || h.Consent.Status != "granted" || h.Consent.MicrosoftTenantID == nil || *h.Consent.MicrosoftTenantID != ms {
		t.Errorf("connected: %+v, %v", h.Consent, err)
	}
}

func TestHealthOfNoSuchTenantIsTenantNotFound(t *testing.T) {
	st := storetest.Open(t, testkit.DB(t))
	if _, err := tenantview.New(st).Health(context.Background(), uuid.New()); !errors.Is(err, store.ErrTenantNotFound) {
		t.Errorf("err %v", err)
	}
}
