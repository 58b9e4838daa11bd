package keycache

import (
	"testing"
	"time"

	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// TestAWatchIsSignalledWhenItsTenantsKeysChangeAndNotForAnothers: the
// watchers of a tenant hear of its suspension (as at psql: the trigger's
// announcement), those of another tenant do not.
func TestAWatchIsSignalledWhenItsTenantsKeysChangeAndNotForAnothers(t *testing.T) {
	f := newFixture(t)
	c, events := f.cache(t, Options{})
	other := storetest.Tenant(t, f.pool, "Fabrikam")
	mine, stopMine := c.Watch(f.tenant)
	defer stopMine()
	theirs, stopTheirs := c.Watch(other)
	defer stopTheirs()

	testkit.Exec(t, f.pool, `UPDATE tenants SET status = 'suspended' WHERE id = $1`, f.tenant)
	waitFor(t, events, notified)
	select {
	case <-mine:
	case <-time.After(time.Second):
		t.Fatal("the suspended tenant's watch was not signalled")
	}
	select {
	case <-theirs:
		t.Error("another tenant's watch was signalled")
	default:
	}
}
