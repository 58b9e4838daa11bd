package graphsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// lifecycleKeys are the members of a lifecycle notification (docs/graph.md#lifecycle-notifications).
var lifecycleKeys = []string{"clientState", "lifecycleEvent", "subscriptionExpirationDateTime", "subscriptionId", "tenantId"}

func checkLifecycleItem(t *testing.T, body []byte, sub Subscription, tenant string) {
	t.Helper()
	var raw struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Value) != 1 {
		t.Fatalf("lifecycle body: %v %s", err, body)
	}
	var keys []string
	for k := range raw.Value[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, lifecycleKeys) {
		t.Errorf("lifecycle notification keys %v, want %v", keys, lifecycleKeys)
	}
	n := decodeCollection(t, body).Value[0]
	if n.LifecycleEvent != "reauthorizationRequired" || n.SubscriptionID != sub.ID || n.TenantID != tenant ||
		*n.ClientState != "s3cret-client-state" || !graphDateTimeRE.MatchString(n.SubscriptionExpirationDateTime) {
		t.Errorf("lifecycle notification: %s", body)
	}
}

func TestReauthorizationRequiredInTheLastFifteenMinutesAndRenewalRestartsIt(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc, lc := newReceiver(t), newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	body := f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false) // expires in 55 minutes
	body["lifecycleNotificationUrl"] = lc.URL
	sub := f.subscribe(tok, body)

	f.advance(39 * time.Minute) // 16 minutes left
	f.sim.TickNotifications()
	lc.none(t)
	f.advance(time.Minute)
	f.sim.TickNotifications()
	checkLifecycleItem(t, lc.next(t).Body, sub, ten.ID.String())
	f.advance(10 * time.Minute)
	f.sim.TickNotifications()
	lc.none(t) // the next one is due 15 minutes later

	// Renewing restarts the schedule.
	tok = f.userToken(ten, f.monitor())
	exp := f.clock().Add(60 * time.Minute).UTC().Format(time.RFC3339)
	if r := f.call(tok, http.MethodPatch, "/v1.0/subscriptions/"+sub.ID, map[string]any{"expirationDateTime": exp}); r.status != 200 {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	f.advance(30 * time.Minute)
	f.sim.TickNotifications()
	lc.none(t)
	f.advance(15 * time.Minute)
	f.sim.TickNotifications()
	lc.next(t)
	// Nothing went to the change notification URL.
	rc.none(t)
	if st := f.sim.NotificationStats(); st.LifecycleSent != 2 {
		t.Errorf("lifecycleSent %d, want 2", st.LifecycleSent)
	}
}

func TestExpiredSubscriptionStopsDelivering(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc := newReceiver(t)
	ten := f.tenant()
	f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	f.advance(55 * time.Minute)
	if err := f.sim.SetTeamsPresence(ten.Users[0].ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	rc.none(t)
	f.sim.TickNotifications()
	if n := len(f.sim.Subscriptions()); n != 0 {
		t.Errorf("%d subscriptions after expiry", n)
	}
}

func TestRevokedConsentPausesNotificationsUntilReauthorized(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc, lc := newReceiver(t), newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	body := f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), true)
	body["lifecycleNotificationUrl"] = lc.URL
	sub := f.subscribe(tok, body)
	user := ten.Users[0].ID

	// The admin removes the app's consent (the control API does what the
	// Entra admin center would).
	req, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/_sim/tenants/"+ten.ID.String()+"/grants/"+f.seed.App.ClientID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke consent: %v %v", err, resp)
	}
	f.sim.TickNotifications()
	checkLifecycleItem(t, lc.next(t).Body, sub, ten.ID.String())

	f.sim.SetTeamsPresence(user, "Busy", "InACall")
	rc.none(t)
	eventually(t, "the lost change counted", func() bool { return f.sim.NotificationStats().Dropped == 1 })

	// Reauthorizing without consent is refused; with consent back it resumes.
	path := "/v1.0/subscriptions/" + sub.ID + "/reauthorize"
	if r := f.call(tok, http.MethodPost, path, nil); r.status != http.StatusForbidden || r.graphErr(t).Code != "ExtensionError" {
		t.Fatalf("reauthorize without consent: %d %s", r.status, r.body)
	}
	f.sim.mu.Lock()
	f.sim.grantLocked(f.sim.tenants[ten.ID], f.sim.apps[f.seed.App.ClientID], f.clock())
	f.sim.mu.Unlock()
	if r := f.call(tok, http.MethodPost, path, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("reauthorize: %d %s", r.status, r.body)
	}
	f.sim.TickNotifications()
	f.sim.SetTeamsPresence(user, "Available", "Available")
	c := decodeCollection(t, rc.next(t).Body)
	_, key := testEncryptionCert(t)
	if p := decrypt(t, key, c.Value[0]); p["availability"] != "Available" {
		t.Errorf("after reauthorizing: %v", p)
	}
}

func TestRevokedSessionsNeedARenewal(t *testing.T) {
	f := newFixture(t)
	startNotifier(t, f)
	rc, lc := newReceiver(t), newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	body := f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false)
	body["lifecycleNotificationUrl"] = lc.URL
	sub := f.subscribe(tok, body)
	f.advance(time.Second)
	if !f.sim.RevokeUser(f.monitor().ID) {
		t.Fatal("revoke")
	}
	f.sim.TickNotifications()
	checkLifecycleItem(t, lc.next(t).Body, sub, ten.ID.String())
	f.sim.SetTeamsPresence(ten.Users[0].ID, "Busy", "InACall")
	rc.none(t)

	exp := f.clock().Add(50 * time.Minute).UTC().Format(time.RFC3339)
	if r := f.call(tok, http.MethodPatch, "/v1.0/subscriptions/"+sub.ID, map[string]any{"expirationDateTime": exp}); r.status != 200 {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	f.sim.TickNotifications()
	lc.none(t)
	f.sim.SetTeamsPresence(ten.Users[0].ID, "Away", "Away")
	rc.next(t)
}
