package tenancy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenancy"
	"presencebridge/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// clock is a time tests move.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func active(t *testing.T) (*store.Store, uuid.UUID) {
	t.Helper()
	st, id := storetest.New(t)
	testkit.Exec(t, st.Pool(), `UPDATE tenants SET status = 'active' WHERE id = $1`, id)
	return st, id
}

func wantAudit(t *testing.T, st *store.Store, tenant *uuid.UUID, action, actor, reason string) {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE tenant_id IS NOT DISTINCT FROM $1 AND action = $2
		AND actor = $3 AND coalesce(detail->>'reason', '') = $4`, tenant, action, actor, reason).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d audit entries %s by %s (reason %q), want 1", n, action, actor, reason)
	}
}

func TestASuspendedTenantResumesToTheStatusItHadAndEachChangeIsAudited(t *testing.T) {
	st, id := active(t)
	svc := tenancy.New(st, 0, nil)
	ctx := t.Context()
	l, err := svc.Suspend(ctx, id, "  unpaid invoice ", "staff:ana@vendor.example")
	if err != nil || l.Status != store.TenantSuspended || l.Reason != "unpaid invoice" || l.ResumeStatus != store.TenantActive {
		t.Fatalf("suspend: %+v %v", l, err)
	}
	if got, _ := st.GetTenant(ctx, id); got.Status != store.TenantSuspended {
		t.Errorf("stored status %s", got.Status)
	}
	l, err = svc.Resume(ctx, id, "staff:ana@vendor.example")
	if err != nil || l.Status != store.TenantActive || l.ResumeStatus != "" || l.Reason != "" {
		t.Fatalf("resume: %+v %v", l, err)
	}
	wantAudit(t, st, &id, "tenant.suspended", "staff:ana@vendor.example", "unpaid invoice")
	wantAudit(t, st, &id, "tenant.resumed", "staff:ana@vendor.example", "")

	// An onboarding tenant goes back to onboarding.
	testkit.Exec(t, st.Pool(), `UPDATE tenants SET status = 'onboarding' WHERE id = $1`, id)
	if _, err := svc.Suspend(ctx, id, "abuse", "staff:x"); err != nil {
		t.Fatal(err)
	}
	if l, _ := svc.Resume(ctx, id, "staff:x"); l.Status != store.TenantOnboarding {
		t.Errorf("an onboarding tenant resumed as %s", l.Status)
	}
}

func TestChangesThatDoNotApplyAreRefusedInWords(t *testing.T) {
	st, id := active(t)
	svc := tenancy.New(st, 0, nil)
	ctx := t.Context()
	var r *tenancy.Refusal
	if _, err := svc.Suspend(ctx, id, "  ", "staff:x"); !errors.As(err, &r) || r.Message != "Say why: support and the customer read it later." {
		t.Errorf("suspend without a reason: %v", err)
	}
	if _, err := svc.Resume(ctx, id, "staff:x"); !errors.As(err, &r) || r.Message != "Only a suspended tenant, or a deleted one not yet purged, can be resumed." {
		t.Errorf("resume an active tenant: %v", err)
	}
	if _, err := svc.Suspend(ctx, id, "first", "staff:x"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Suspend(ctx, id, "again", "staff:x"); !errors.As(err, &r) || r.Message != "Only an onboarding or active tenant can be suspended." {
		t.Errorf("suspend twice: %v", err)
	}
	if _, err := svc.Suspend(ctx, uuid.New(), "who", "staff:x"); !errors.Is(err, store.ErrTenantNotFound) {
		t.Errorf("an unknown tenant: %v", err)
	}
	var n int
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id = $1`, id).Scan(&n)
	if n != 1 {
		t.Errorf("%d audit entries, want only the one suspension", n)
	}
}

func TestADeletedTenantCanBeResumedWithinItsGraceAndIsPurgedAfter(t *testing.T) {
	st, id := active(t)
	c := &clock{t: time.Now()}
	svc := tenancy.New(st, 48*time.Hour, c.now)
	ctx := t.Context()
	testkit.Exec(t, st.Pool(), `INSERT INTO directory_users (tenant_id, upn) VALUES ($1, 'a@contoso.example')`, id)
	keep := storetest.Tenant(t, st.Pool(), "Fabrikam")

	l, err := svc.Delete(ctx, id, "customer left", "staff:ana")
	if err != nil || l.Status != store.TenantDeleted || l.PurgeAfter == nil || !l.PurgeAfter.Equal(c.t.Add(48*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("delete: %+v %v", l, err)
	}
	if l, err := svc.Resume(ctx, id, "staff:ana"); err != nil || l.Status != store.TenantActive || l.PurgeAfter != nil {
		t.Fatalf("resume within grace: %+v %v", l, err)
	}
	if _, err := svc.Delete(ctx, id, "customer left, really", "staff:ana"); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge within grace: %d %v", n, err)
	}

	// Past the grace, but Graph still holds a subscription of it: it waits.
	c.t = c.t.Add(49 * time.Hour)
	m, err := st.AddMonitor(ctx, id, "mon@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, st.Pool(), `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource) VALUES ($1, $2, 'g-1', 'r')`, id, m.ID)
	if n, err := svc.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge with a live subscription: %d %v", n, err)
	}
	testkit.Exec(t, st.Pool(), `UPDATE subscriptions SET graph_id = NULL WHERE tenant_id = $1`, id)
	if n, err := svc.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, err := st.GetTenant(ctx, id); !errors.Is(err, store.ErrTenantNotFound) {
		t.Errorf("the purged tenant: %v", err)
	}
	var users int
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM directory_users WHERE tenant_id = $1`, id).Scan(&users)
	if users != 0 {
		t.Errorf("%d directory rows left", users)
	}
	if _, err := st.GetTenant(ctx, keep); err != nil {
		t.Errorf("another tenant went too: %v", err)
	}
	var purged int
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE tenant_id IS NULL AND action = 'tenant.purged' AND detail->>'tenant' = $1`, id.String()).Scan(&purged)
	if purged != 1 {
		t.Errorf("%d purge audit entries", purged)
	}
	if _, err := svc.Resume(ctx, id, "staff:ana"); !errors.Is(err, store.ErrTenantNotFound) {
		t.Errorf("resume after purge: %v", err)
	}
}
