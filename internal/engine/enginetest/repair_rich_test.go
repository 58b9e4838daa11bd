package enginetest

import (
	"context"
	"testing"

	"presencebridge/internal/engine"
	"presencebridge/internal/testkit"
)

// TestRepairFindsRichPresenceChangesNotificationsMissed: a re-read compares
// the status message, out of office and work location too, so a change of
// only those is found and stored; rows written before rich presence
// existed (nothing rich known) do not make every user who is simply in
// the office a change.
func TestRepairFindsRichPresenceChangesNotificationsMissed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, _, tenant := ourTenant(t, e.Tenant.ID)
	users := e.UserIDs()
	c, _ := e.app()
	if stats, err := engine.Repair(ctx, st, c, tenant, users); err != nil || stats.Changed != len(users) {
		t.Fatalf("first repair = %+v %v (every user is new to us)", stats, err)
	}
	testkit.Exec(t, st.Pool(), `UPDATE presence SET status_message = NULL, out_of_office = NULL, work_location = NULL`)
	if stats, err := engine.Repair(ctx, st, c, tenant, users); err != nil || stats.Changed != 0 {
		t.Errorf("over rows that knew nothing rich: %+v %v, want no change", stats, err)
	}

	away, remote := e.Tenant.Users[0], e.Tenant.Users[1]
	if err := e.Sim.SetOutOfOffice(away.ID, true, "Back Monday"); err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.SetWorkLocation(remote.ID, "manual", "remote", ""); err != nil {
		t.Fatal(err)
	}
	if stats, err := engine.Repair(ctx, st, c, tenant, users); err != nil || stats.Changed != 2 {
		t.Errorf("after out of office and a work location: %+v %v, want 2 changes", stats, err)
	}
	if p, err := st.GetPresence(ctx, tenant, away.ID); err != nil || !p.Rich.OutOfOfficeNow() || p.Rich.OutOfOffice.Message != "Back Monday" {
		t.Errorf("out of office stored as %+v %v", p.Rich.OutOfOffice, err)
	}
	if p, err := st.GetPresence(ctx, tenant, remote.ID); err != nil || p.Rich.WorkLocation == nil || p.Rich.WorkLocation.WorkLocationType != "remote" {
		t.Errorf("work location stored as %+v %v", p.Rich.WorkLocation, err)
	}
	if stats, err := engine.Repair(ctx, st, c, tenant, users); err != nil || stats.Changed != 0 {
		t.Errorf("nothing changed since: %+v %v", stats, err)
	}
}
