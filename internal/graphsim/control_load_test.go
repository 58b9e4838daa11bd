package graphsim

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestGenerateSeedSizesGivesEachTenantItsSizeAndEqualSizesGenerateSeedsDirectory(t *testing.T) {
	seed := GenerateSeedSizes([]TenantSize{{Users: 5, Monitors: 2}, {Users: 2, Monitors: 1}}, 7)
	if len(seed.Tenants) != 2 || len(seed.Tenants[0].Users) != 5 || len(seed.Tenants[0].Monitors) != 2 ||
		len(seed.Tenants[1].Users) != 2 || len(seed.Tenants[1].Monitors) != 1 {
		t.Fatalf("tenants of sizes 5+2 and 2+1: %+v", seed.Tenants)
	}
	if seed.Tenants[1].Domain != "contoso-2.example" {
		t.Errorf("second tenant's domain: %s", seed.Tenants[1].Domain)
	}
	same := GenerateSeedSizes([]TenantSize{{3, 2}, {3, 2}}, 42)
	if want := GenerateSeed(2, 3, 2, 42); !reflect.DeepEqual(same, want) {
		t.Error("equal sizes gave another directory than GenerateSeed's")
	}
}

func TestCoverageCountsSubscriptionsAndTheDistinctUsersTheyCover(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	var c Coverage
	if code := ctlCall(t, f, http.MethodGet, "/subscriptions/coverage", nil, &c); code != http.StatusOK || c != (Coverage{}) {
		t.Fatalf("coverage before any subscription: %d %+v", code, c)
	}
	ids := userIDs(ten.Users)
	f.subscribe(f.userToken(ten, ten.Monitors[0]), f.subRequest(rc.URL, bulkResource(ids[:2]...), true))
	f.subscribe(f.userToken(ten, ten.Monitors[1]), f.subRequest(rc.URL, bulkResource(ids[1:]...), true))
	ctlCall(t, f, http.MethodGet, "/subscriptions/coverage", nil, &c)
	if want := (Coverage{Subscriptions: 2, Users: len(ids)}); c != want {
		t.Errorf("two subscriptions sharing a user: %+v, want %+v", c, want)
	}
	if r := f.call(f.userToken(ten, ten.Monitors[0]), http.MethodPost, "/v1.0/communications/getPresencesByUserId",
		map[string]any{"ids": []string{ids[0].String(), ids[1].String()}}); r.status != http.StatusOK {
		t.Fatalf("getPresencesByUserId: %d %s", r.status, r.body)
	}
	ctlCall(t, f, http.MethodGet, "/subscriptions/coverage", nil, &c)
	if c.PresencesRead != 2 {
		t.Errorf("two presences read, coverage says %d", c.PresencesRead)
	}
}

func TestBulkPresenceSetsTheFirstUsersAndGraphNotifiesEachWithItsPostTime(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))
	f.sim.StartJournal()
	var out BulkResult
	body := BulkPresence{TenantID: ten.ID.String(), Users: 2, Availability: "Busy", Activity: "Busy"}
	if code := ctlCall(t, f, http.MethodPost, "/presence/bulk", body, &out); code != http.StatusOK || out != (BulkResult{Users: 2, Changed: 2, Covered: 2}) {
		t.Fatalf("bulk presence of 2 users: %d %+v", code, out)
	}
	body.Users = 3
	if code := ctlCall(t, f, http.MethodPost, "/presence/bulk", body, &out); code != http.StatusOK || out != (BulkResult{Users: 3, Changed: 1, Covered: 1}) {
		t.Fatalf("the same presence for the 2 and a third user: %d %+v, want 3 set, 1 changed", code, out)
	}
	if code := ctlCall(t, f, http.MethodPost, "/presence/bulk", BulkPresence{Users: 1, Availability: "Sleepy", Activity: "x"}, nil); code != http.StatusBadRequest {
		t.Errorf("an unknown availability: %d, want 400", code)
	}
	eventually(t, "the three changes acknowledged", func() bool {
		j := f.sim.NotificationJournal()
		return len(j.Entries) == 3 && j.Entries[0].Acks == 1 && j.Entries[1].Acks == 1 && j.Entries[2].Acks == 1
	})
	for _, e := range f.sim.NotificationJournal().Entries {
		if e.Availability != "Busy" || e.PostedAt == nil || e.PostedAt.Before(e.MadeAt) || e.AckTook <= 0 {
			t.Errorf("journal entry without its state, first POST's time or acknowledgement's duration: %+v", e)
		}
	}
}

func TestChurnMovesPeopleOnlyBetweenTheStatesItWasGiven(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))
	f.sim.StartJournal()
	states := [][2]string{{"Away", "Away"}, {"DoNotDisturb", "DoNotDisturb"}}
	if _, err := f.sim.StartChurn(ChurnSpec{Users: 3, Rate: 1, States: states[:1]}); err == nil {
		t.Error("a churn between one state started")
	}
	c, err := f.sim.StartChurn(ChurnSpec{TenantID: ten.ID.String(), Users: 3, Rate: 500, States: states})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "20 changes notified", func() bool { return len(f.sim.NotificationJournal().Entries) >= 20 })
	f.sim.StopChurn(c.ID)
	for _, e := range f.sim.NotificationJournal().Entries {
		if e.Availability != "Away" && e.Availability != "DoNotDisturb" {
			t.Fatalf("churned to %s/%s, not one of the states given", e.Availability, e.Activity)
		}
	}
}

// TestABulkChangeSaysHowManyOfItsChangesASubscriptionCovers: a bulk change
// of every person chooses as a churn does, monitor accounts included, and
// nobody subscribes to those — a load run that waited for every change to
// arrive waited forever (PB_LOAD_REPAIR_USERS = PB_LOAD_USERS, issue 16).
// Covered is the changes Graph notifies.
func TestABulkChangeSaysHowManyOfItsChangesASubscriptionCovers(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true))
	var out BulkResult
	body := BulkPresence{TenantID: ten.ID.String(), Users: 1000, Availability: "Busy", Activity: "Busy"}
	if code := ctlCall(t, f, http.MethodPost, "/presence/bulk", body, &out); code != http.StatusOK {
		t.Fatalf("bulk presence of everyone: %d", code)
	}
	everyone := len(ten.Users) + len(ten.Monitors)
	if want := (BulkResult{Users: everyone, Changed: everyone, Covered: len(ten.Users)}); out != want {
		t.Errorf("bulk presence of %d people and %d monitor accounts, %d of them subscribed to: %+v, want %+v",
			len(ten.Users), len(ten.Monitors), len(ten.Users), out, want)
	}
}

// Coverage counts the renewals Graph answered (a PATCH that moves the
// expiration; one that changes only the clientState is not one) and the
// subscriptions deleted because they reached their expiration, not those
// their creator deleted: a load run reports both for its product.
func TestCoverageCountsRenewalsAndSubscriptionsThatLapsed(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	kept := f.subscribe(f.userToken(ten, ten.Monitors[0]), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false)) // 55 minutes each
	f.subscribe(f.userToken(ten, ten.Monitors[1]), f.subRequest(rc.URL, bulkResource(ten.Users[1].ID), false))

	f.advance(30 * time.Minute)
	tok := f.userToken(ten, ten.Monitors[0])
	exp := f.clock().Add(60 * time.Minute).UTC().Format(time.RFC3339)
	if r := f.call(tok, http.MethodPatch, "/v1.0/subscriptions/"+kept.ID, map[string]any{"expirationDateTime": exp}); r.status != http.StatusOK {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	if r := f.call(tok, http.MethodPatch, "/v1.0/subscriptions/"+kept.ID, map[string]any{"clientState": "another"}); r.status != http.StatusOK {
		t.Fatalf("a PATCH of the clientState alone: %d %s", r.status, r.body)
	}
	var c Coverage
	ctlCall(t, f, http.MethodGet, "/subscriptions/coverage", nil, &c)
	if c.Subscriptions != 2 || c.Renewed != 1 || c.Lapsed != 0 {
		t.Fatalf("after a renewal: %+v, want 2 subscriptions, 1 renewed, none lapsed", c)
	}

	f.advance(26 * time.Minute) // past the other's 55 minutes, within the renewed one's 60
	f.sim.TickNotifications()
	if r := f.call(tok, http.MethodDelete, "/v1.0/subscriptions/"+kept.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	ctlCall(t, f, http.MethodGet, "/subscriptions/coverage", nil, &c)
	if c.Subscriptions != 0 || c.Renewed != 1 || c.Lapsed != 1 {
		t.Errorf("one lapsed, the renewed one deleted: %+v, want none left, 1 renewed, 1 lapsed", c)
	}
}
