package tenantview_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
)

// entry writes an audit entry of the fixture's tenant at at.
func (f fixture) entry(t *testing.T, at time.Time, actor, action string) {
	t.Helper()
	testkit.Exec(t, f.st.Pool(), `INSERT INTO audit_log (at, tenant_id, actor, action) VALUES ($1, $2, $3, $4)`, at, f.tenant, actor, action)
}

func TestTheAuditLogNamesItsActorsAsPeopleKnowThem(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := uuid.New()
	if _, err := f.st.AddPortalAdmin(ctx, store.PortalAdmin{TenantID: f.tenant, ObjectID: admin, MSTenantID: uuid.New(),
		UPN: "ann@contoso.example", AddedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	_, key, err := f.st.CreateAPIKey(ctx, f.tenant, store.NewAPIKey{Name: "contact center", Scopes: []string{store.ScopeAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	gone, other := uuid.New(), uuid.New()
	now := time.Now()
	for i, actor := range []string{"portal:" + admin.String(), "portal:" + gone.String(), "apikey:" + key.ID.String(), "apikey:" + other.String(),
		"admin:it@contoso.example", "monitor-link:m1@contoso.example", "staff:support@presencebridge.example", "system"} {
		f.entry(t, now.Add(-time.Duration(i)*time.Minute), actor, "thing.done")
	}
	p, err := f.r.AuditLog(ctx, f.tenant, store.AuditQuery{Limit: 10}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ann@contoso.example", "a former portal admin (" + gone.String() + ")",
		fmt.Sprintf("API key %q (pbk_%s_…)", "contact center", key.Prefix), "an API key (" + other.String() + ")",
		"it@contoso.example (during onboarding)", "m1@contoso.example (a monitor's sign-in)", "staff:support@presencebridge.example", "system"}
	if len(p.Lines) != len(want) || p.Next != "" {
		t.Fatalf("%d lines, next %q", len(p.Lines), p.Next)
	}
	for i, w := range want {
		if p.Lines[i].Who != w {
			t.Errorf("line %d (%s): %q, want %q", i, p.Lines[i].Actor, p.Lines[i].Who, w)
		}
	}
}

func TestTheAuditLogPagesByCursorWithoutRepeatingOrSkippingEntriesOfOneInstant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Now().Truncate(time.Microsecond)
	for i := range 7 {
		f.entry(t, at, "system", fmt.Sprintf("step.%d", i)) // one instant: the order is the id's
	}
	f.entry(t, at.Add(-time.Second), "system", "earlier")
	other := uuid.New()
	testkit.Exec(t, f.st.Pool(), `INSERT INTO tenants (id, name) VALUES ($1, 'Fabrikam')`, other)
	testkit.Exec(t, f.st.Pool(), `INSERT INTO audit_log (at, tenant_id, actor, action) VALUES ($1, $2, 'system', 'not.ours')`, at, other)
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := f.r.AuditLog(ctx, f.tenant, store.AuditQuery{Limit: 3}, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Lines {
			seen = append(seen, l.Action)
		}
		if p.Next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
		cursor = p.Next
	}
	want := []string{"step.6", "step.5", "step.4", "step.3", "step.2", "step.1", "step.0", "earlier"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("pages read %v, want %v", seen, want)
	}
}

func TestTheAuditLogFiltersByKindOfActorActionAndDates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	f.entry(t, day.AddDate(0, 0, -2), "portal:"+uuid.NewString(), "endpoint.created")
	f.entry(t, day, "portal:"+uuid.NewString(), "monitor.renewal_requested")
	f.entry(t, day, "portalx", "monitor.renewed") // a kind of its own, not a portal admin
	f.entry(t, day, "monitor:m1@contoso.example", "monitor.authorized")
	f.entry(t, day, "monitor-link:m1@contoso.example", "monitor.link_used")
	f.entry(t, day.AddDate(0, 0, 1), "system", "monitor_alert.raised")
	f.entry(t, day.AddDate(0, 0, 1), "system", "Monitor.renewed")
	since, until := day.Add(-time.Hour), day.Add(time.Hour)
	for _, c := range []struct {
		q    store.AuditQuery
		want string
	}{
		{store.AuditQuery{ActorKind: "portal"}, "[monitor.renewal_requested endpoint.created]"},
		{store.AuditQuery{ActorKind: "monitor"}, "[monitor.authorized]"},
		// Entries of one instant: the later written first.
		{store.AuditQuery{Action: "monitor."}, "[monitor.link_used monitor.authorized monitor.renewed monitor.renewal_requested]"},
		{store.AuditQuery{Action: "monitor_"}, "[monitor_alert.raised]"}, // not a pattern: _ is itself
		{store.AuditQuery{ActorKind: "portal", Action: "endpoint."}, "[endpoint.created]"},
		{store.AuditQuery{Since: &since, Until: &until, ActorKind: "monitor-link"}, "[monitor.link_used]"},
		{store.AuditQuery{Since: &until}, "[Monitor.renewed monitor_alert.raised]"},
		{store.AuditQuery{Until: &since}, "[endpoint.created]"},
	} {
		c.q.Limit = 10
		p, err := f.r.AuditLog(ctx, f.tenant, c.q, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range p.Lines {
			got = append(got, l.Action)
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("%+v: %v, want %s", c.q, got, c.want)
		}
	}
}

func TestAnAuditCursorNotMadeByTheLogIsRefused(t *testing.T) {
	f := newFixture(t)
	for _, c := range []string{"x", "1.", ".2", "12", "1.2.3", "a.b"} {
		if _, err := f.r.AuditLog(context.Background(), f.tenant, store.AuditQuery{Limit: 10}, c); !errors.Is(err, tenantview.ErrBadCursor) {
			t.Errorf("cursor %q: %v", c, err)
		}
	}
}
