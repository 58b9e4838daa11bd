package graph

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/testkit"
)

func (e *env) presenceSpec(wh *testkit.NotificationReceiver, ids []string) graphapi.SubscriptionSpec {
	return graphapi.SubscriptionSpec{
		Resource:                 graphapi.PresenceResource(ids),
		NotificationURL:          wh.URL,
		LifecycleNotificationURL: wh.URL,
		ExpiresAt:                time.Now().Add(55 * time.Minute),
		ClientState:              "bridge-client-state",
	}
}

func TestSubscriptionLifecycle(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(0)
	ids := e.UserIDs()[:5]
	spec := e.presenceSpec(wh, ids)
	sub, err := c.CreateSubscription(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	mon := e.Tenant.Monitors[0]
	if sub.ID == "" || sub.ChangeType != "updated" || sub.Resource != spec.Resource || sub.NotificationURL != wh.URL ||
		sub.LifecycleNotificationURL != wh.URL || sub.ClientState != spec.ClientState ||
		sub.ApplicationID != e.Seed.App.ClientID || sub.CreatorID != mon.ID.String() || sub.IncludeResourceData {
		t.Errorf("created: %+v", sub)
	}
	if d := sub.ExpiresAt.Sub(spec.ExpiresAt); d < -time.Second || d > time.Second {
		t.Errorf("expiresAt = %v, asked %v", sub.ExpiresAt, spec.ExpiresAt)
	}

	got, err := c.GetSubscription(t.Context(), sub.ID)
	if err != nil || got.ID != sub.ID || !got.ExpiresAt.Equal(sub.ExpiresAt) {
		t.Errorf("get: %+v, %v", got, err)
	}
	list, err := c.ListSubscriptions(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != sub.ID {
		t.Errorf("list: %+v, %v", list, err)
	}

	later := time.Now().Add(58 * time.Minute)
	renewed, err := c.RenewSubscription(t.Context(), sub.ID, later)
	if err != nil {
		t.Fatal(err)
	}
	if d := renewed.ExpiresAt.Sub(later); d < -time.Second || d > time.Second || renewed.LifecycleNotificationURL != wh.URL {
		t.Errorf("renewed: %+v", renewed)
	}
	if err := c.DeleteSubscription(t.Context(), sub.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSubscription(t.Context(), sub.ID)
	graphError(t, err, http.StatusNotFound, "")
	_, err = c.RenewSubscription(t.Context(), sub.ID, later)
	graphError(t, err, http.StatusNotFound, "")
	graphError(t, c.DeleteSubscription(t.Context(), sub.ID), http.StatusNotFound, "")
}

func TestSecondPresenceSubscriptionIsAConflict(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(0)
	ids := e.UserIDs()
	if _, err := c.CreateSubscription(t.Context(), e.presenceSpec(wh, ids[:5])); err != nil {
		t.Fatal(err)
	}
	// Same resource (by anyone of the app), then another resource by the
	// same user: one presence subscription per user per app.
	other, _ := e.monitor(1)
	_, err := other.CreateSubscription(t.Context(), e.presenceSpec(wh, ids[:5]))
	graphError(t, err, http.StatusConflict, "")
	_, err = c.CreateSubscription(t.Context(), e.presenceSpec(wh, ids[5:10]))
	graphError(t, err, http.StatusConflict, "")
	if !graphapi.IsConflict(err) {
		t.Errorf("IsConflict false for %v", err)
	}
}

func TestPresenceSubscriptionOver60MinutesIsRefused(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(0)
	spec := e.presenceSpec(wh, e.UserIDs()[:2])
	spec.ExpiresAt = time.Now().Add(61 * time.Minute)
	_, err := c.CreateSubscription(t.Context(), spec)
	graphError(t, err, http.StatusBadRequest, "")
}

func TestPresenceSubscriptionWithAnAppOnlyTokenIsForbidden(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.app()
	_, err := c.CreateSubscription(t.Context(), e.presenceSpec(wh, e.UserIDs()[:2]))
	graphError(t, err, http.StatusForbidden, "")
}

func TestPresenceSubscriptionOf651IDsIsRefused(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(0)
	ids := e.UserIDs()
	for len(ids) < graphapi.MaxPresenceIDs+1 {
		ids = append(ids, uuid.NewString())
	}
	_, err := c.CreateSubscription(t.Context(), e.presenceSpec(wh, ids))
	graphError(t, err, http.StatusBadRequest, "")
}

// Rich notifications: the certificate is sent and its id comes back.
func TestRichPresenceSubscriptionCarriesTheCertificate(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(0)
	spec := e.presenceSpec(wh, e.UserIDs()[:3])
	spec.IncludeResourceData = true
	spec.EncryptionCertificate = selfSignedCert(t)
	spec.EncryptionCertificateID = "bridge-cert-1"
	sub, err := c.CreateSubscription(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !sub.IncludeResourceData || sub.EncryptionCertificateID != "bridge-cert-1" {
		t.Errorf("rich subscription: %+v", sub)
	}
	spec.EncryptionCertificate = ""
	other, _ := e.monitor(1)
	spec.Resource = graphapi.PresenceResource(e.UserIDs()[3:6])
	_, err = other.CreateSubscription(t.Context(), spec)
	graphError(t, err, http.StatusBadRequest, "")
}

// A presence change reaches the webhook as Graph's notification
// collection, which the SDK's own model parses.
func TestPresenceChangeIsNotifiedToTheWebhook(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(0)
	u := e.Tenant.Users[0]
	sub, err := c.CreateSubscription(t.Context(), e.presenceSpec(wh, []string{u.ID.String()}))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Sim.SetTeamsPresence(u.ID, "Busy", "InACall"); err != nil {
		t.Fatal(err)
	}
	e.Sim.TickNotifications()
	var body []byte
	select {
	case body = <-wh.Posts:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10 s")
	}
	node, err := jsonser.NewJsonParseNode(body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := node.GetObjectValue(models.CreateChangeNotificationCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatalf("SDK cannot parse %s: %v", body, err)
	}
	items := v.(models.ChangeNotificationCollectionResponseable).GetValue()
	if len(items) == 0 {
		t.Fatalf("no items in %s", body)
	}
	n := items[0]
	if n.GetSubscriptionId() == nil || n.GetSubscriptionId().String() != sub.ID || deref(n.GetClientState()) != "bridge-client-state" ||
		n.GetChangeType() == nil || n.GetChangeType().String() != "updated" ||
		!strings.Contains(strings.ToLower(deref(n.GetResource())), strings.ToLower(u.ID.String())) || n.GetTenantId() == nil ||
		n.GetTenantId().String() != e.Tenant.ID.String() {
		t.Errorf("notification: %s", body)
	}
}

// selfSignedCert is a base64 DER certificate with an RSA 2048 key.
func selfSignedCert(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bridge"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Graph deletes a subscription when it expires: reads and renewals are 404,
// and the product creates it again. A renewal past 60 minutes is refused.
func TestExpiredSubscriptionIsNotFoundAndRenewalIsCapped(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(0)
	spec := e.presenceSpec(wh, e.UserIDs()[:3])
	spec.ExpiresAt = e.Now().Add(20 * time.Minute)
	sub, err := c.CreateSubscription(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RenewSubscription(t.Context(), sub.ID, e.Now().Add(61*time.Minute))
	graphError(t, err, http.StatusBadRequest, "")

	e.Advance(21 * time.Minute)
	c, _ = e.monitor(0)
	_, err = c.GetSubscription(t.Context(), sub.ID)
	graphError(t, err, http.StatusNotFound, "")
	_, err = c.RenewSubscription(t.Context(), sub.ID, e.Now().Add(30*time.Minute))
	graphError(t, err, http.StatusNotFound, "")
	if list, err := c.ListSubscriptions(t.Context()); err != nil || len(list) != 0 {
		t.Errorf("list after expiry: %+v, %v", list, err)
	}
	if _, err := c.CreateSubscription(t.Context(), spec); err == nil {
		t.Errorf("creating with a past expiry succeeded")
	}
	spec.ExpiresAt = e.Now().Add(30 * time.Minute)
	if _, err := c.CreateSubscription(t.Context(), spec); err != nil {
		t.Errorf("create again after expiry: %v", err)
	}
}

// Reauthorize answers reauthorizationRequired (204, expiry unchanged).
// Once the admin revoked consent, the tokens still work for a while but
// renewing and reauthorizing are refused (403).
func TestReauthorizeAndRevokedConsent(t *testing.T) {
	e := newEnv(t)
	wh := testkit.NewNotificationReceiver(t)
	c, _ := e.monitor(1)
	sub, err := c.CreateSubscription(t.Context(), e.presenceSpec(wh, e.UserIDs()[:4]))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReauthorizeSubscription(t.Context(), sub.ID); err != nil {
		t.Fatalf("reauthorize: %v", err)
	}
	if got, err := c.GetSubscription(t.Context(), sub.ID); err != nil || !got.ExpiresAt.Equal(sub.ExpiresAt) {
		t.Errorf("after reauthorize: %+v, %v", got, err)
	}
	graphError(t, c.ReauthorizeSubscription(t.Context(), uuid.NewString()), http.StatusNotFound, "")

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete,
		e.Base+"/_sim/tenants/"+e.Tenant.ID.String()+"/grants/"+e.Seed.App.ClientID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke consent: %v %v", resp, err)
	}
	resp.Body.Close()
	graphError(t, c.ReauthorizeSubscription(t.Context(), sub.ID), http.StatusForbidden, "")
	_, err = c.RenewSubscription(t.Context(), sub.ID, time.Now().Add(50*time.Minute))
	graphError(t, err, http.StatusForbidden, "")
	if !graphapi.IsAuth(err) {
		t.Errorf("IsAuth false for %v", err)
	}
}
