package onboarding

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// "The members of a Microsoft Entra group" on the form makes the group the
// tenant's roster, for the engine's roster pass to read; a group named by
// anything but its object id is refused on the form, not ignored.
func TestTheFormsEntraGroupBecomesTheTenantsRoster(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tenantID := f.invited()
	form, err := f.svc.Form(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	form.UsersSource, form.Group = "group", "Support agents"
	fe, err := f.svc.SaveForm(ctx, tenantID, form, "admin")
	if err != nil || !strings.Contains(fe["group"], "object id") {
		t.Fatalf("a group name: %v, %v; want a field error asking for the object id", fe, err)
	}
	if src, _ := f.st.TenantRosterSource(ctx, tenantID); src.Kind != store.SourceList {
		t.Errorf("a refused group changed the roster source: %+v", src)
	}

	group := uuid.New()
	form.Group = group.String()
	if fe, err := f.svc.SaveForm(ctx, tenantID, form, "admin"); err != nil || fe != nil {
		t.Fatalf("a group id: %v, %v", fe, err)
	}
	src, err := f.st.TenantRosterSource(ctx, tenantID)
	if err != nil || src.Kind != store.SourceGroup || src.GroupID == nil || *src.GroupID != group {
		t.Fatalf("roster source after choosing the group: %+v, %v", src, err)
	}

	form.UsersSource, form.Users = "list", f.ten().Users[0].UPN
	if fe, err := f.svc.SaveForm(ctx, tenantID, form, "admin"); err != nil || fe != nil {
		t.Fatalf("back to a list: %v, %v", fe, err)
	}
	st, err := f.svc.Status(ctx, tenantID)
	if src, _ := f.st.TenantRosterSource(ctx, tenantID); err != nil || src.Kind != store.SourceList || st.Users != 1 {
		t.Errorf("back to a list: source %+v, %d users (%v)", src, st.Users, err)
	}
}
