package graphsim

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var graphDateTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

func TestCreatePresenceSubscriptionValidatesEndpointAndAnswersGraphsSubscription(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten, mon := f.tenant(), f.monitor()
	tok := f.userToken(ten, mon)
	body := f.subRequest(rc.URL, bulkResource(userIDs(ten.Users)...), true)
	body["lifecycleNotificationUrl"] = rc.URL
	resp := f.call(tok, http.MethodPost, "/v1.0/subscriptions", body)
	if resp.status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.status, resp.body)
	}
	var raw map[string]any
	resp.json(t, &raw)
	for _, k := range []string{"@odata.context", "id", "resource", "applicationId", "changeType", "clientState", "notificationUrl",
		"lifecycleNotificationUrl", "expirationDateTime", "creatorId", "includeResourceData", "encryptionCertificate",
		"encryptionCertificateId", "latestSupportedTlsVersion", "notificationContentType"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("subscription lacks %q: %s", k, resp.body)
		}
	}
	var sub Subscription
	resp.json(t, &sub)
	if _, err := uuid.Parse(sub.ID); err != nil {
		t.Errorf("id %q is not a GUID", sub.ID)
	}
	if sub.ApplicationID != f.seed.App.ClientID || sub.CreatorID != mon.ID.String() || sub.ChangeType != "updated" ||
		sub.Resource != body["resource"] || sub.LatestSupportedTLSVersion != "v1_2" || sub.NotificationContentType != "application/json" ||
		!sub.IncludeResourceData || *sub.EncryptionCertificateID != "bridge-cert-1" || *sub.ClientState != "s3cret-client-state" {
		t.Errorf("subscription fields: %+v", sub)
	}
	if !graphDateTimeRE.MatchString(sub.ExpirationDateTime) {
		t.Errorf("expirationDateTime %q is not Graph's 7-digit form", sub.ExpirationDateTime)
	}
	if !strings.HasSuffix(sub.ODataContext, "/v1.0/$metadata#subscriptions/$entity") {
		t.Errorf("@odata.context = %q", sub.ODataContext)
	}
	// Both URLs are validated, twice when they are the same (docs/graph.md#lifecycle-notifications).
	if n := rc.validationCount(); n != 2 {
		t.Fatalf("validation requests = %d, want 2", n)
	}
	rc.mu.Lock()
	v := rc.validations[0]
	rc.mu.Unlock()
	if ct := v.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("validation Content-Type = %q", ct)
	}
	if len(v.Body) != 0 || v.Query.Get("validationToken") == "" {
		t.Errorf("validation request: body %q, token %q", v.Body, v.Query.Get("validationToken"))
	}

	got := f.call(tok, http.MethodGet, "/v1.0/subscriptions/"+sub.ID, nil)
	var again Subscription
	got.json(t, &again)
	if got.status != 200 || again.ID != sub.ID || again.ExpirationDateTime != sub.ExpirationDateTime {
		t.Errorf("GET by id: %d %s", got.status, got.body)
	}
	list := f.call(tok, http.MethodGet, "/v1.0/subscriptions", nil)
	var page struct {
		Value []Subscription `json:"value"`
	}
	list.json(t, &page)
	if list.status != 200 || len(page.Value) != 1 || page.Value[0].ID != sub.ID {
		t.Errorf("list: %d %s", list.status, list.body)
	}
	// Another user of the same app sees only their own.
	other := f.call(f.userToken(ten, ten.Monitors[1]), http.MethodGet, "/v1.0/subscriptions", nil)
	other.json(t, &page)
	if len(page.Value) != 0 {
		t.Errorf("another user's list shows %d subscriptions", len(page.Value))
	}
}

func TestCreateSubscriptionRefusesWhatGraphRefuses(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	user := ten.Users[0].ID
	single := "communications/presences/" + user.String()
	ids := make([]uuid.UUID, 651)
	for i := range ids {
		ids[i] = uuid.New()
	}
	_, _ = testEncryptionCert(t)
	cases := []struct {
		name   string
		token  string
		change func(b map[string]any)
		status int
		code   string
		msg    string
	}{
		{"app-only token", f.appToken(ten), nil, 403, "ExtensionError",
			"Operation: Create; Exception: [Status Code: Forbidden; Reason: The request is not authorized for this user or application.]"},
		{"no expiration", tok, func(b map[string]any) { delete(b, "expirationDateTime") }, 400, "InvalidRequest",
			"expirationDateTime is a required property for subscription creation."},
		{"no notificationUrl", tok, func(b map[string]any) { delete(b, "notificationUrl") }, 400, "InvalidRequest",
			"notificationUrl is a required property for subscription creation."},
		{"created changeType", tok, func(b map[string]any) { b["changeType"] = "created" }, 400, "ExtensionError", "only 'updated'"},
		{"651 ids", tok, func(b map[string]any) { b["resource"] = bulkResource(ids...) }, 400, "ExtensionError", "exceeds the maximum of 650"},
		{"id not a GUID", tok, func(b map[string]any) {
			b["resource"] = "/communications/presences?$filter=id in ('adele@contoso.com')"
		},
			400, "ExtensionError", "user ids must be GUIDs"},
		{"61 minutes", tok, func(b map[string]any) {
			b["expirationDateTime"] = f.clock().Add(61 * time.Minute).UTC().Format(time.RFC3339)
		}, 400, "ExtensionError", "Subscription expiration can only be 60 minutes in the future."},
		{"in the past", tok, func(b map[string]any) {
			b["expirationDateTime"] = f.clock().Add(-time.Minute).UTC().Format(time.RFC3339)
		}, 400, "InvalidRequest", "must be in the future"},
		{"plain http elsewhere", tok, func(b map[string]any) { b["notificationUrl"] = "http://bridge.example.com/graph" },
			400, "InvalidRequest", "notificationUrl must use HTTPS"},
		{"clientState over 255", tok, func(b map[string]any) { b["clientState"] = strings.Repeat("x", 256) },
			400, "InvalidRequest", "clientState must not exceed 255 characters."},
		{"rich without certificate", tok, func(b map[string]any) { delete(b, "encryptionCertificate") },
			400, "InvalidRequest", "encryptionCertificate and encryptionCertificateId are required"},
		{"rich without certificate id", tok, func(b map[string]any) { delete(b, "encryptionCertificateId") },
			400, "InvalidRequest", "encryptionCertificate and encryptionCertificateId are required"},
		{"1024-bit key", tok, func(b map[string]any) { b["encryptionCertificate"] = smallCertB64 },
			400, "InvalidRequest", "key size 1024 is not supported"},
		{"certificate not base64", tok, func(b map[string]any) { b["encryptionCertificate"] = "not base64!" },
			400, "InvalidRequest", "base64"},
		{"certificate id over 128", tok, func(b map[string]any) { b["encryptionCertificateId"] = strings.Repeat("c", 129) },
			400, "InvalidRequest", "encryptionCertificateId must not exceed 128 characters."},
		{"not presence", tok, func(b map[string]any) { b["resource"] = "/me/messages" }, 400, "InvalidRequest", "is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := f.subRequest(rc.URL, single, true)
			if c.change != nil {
				c.change(body)
			}
			resp := f.call(c.token, http.MethodPost, "/v1.0/subscriptions", body)
			if resp.status != c.status {
				t.Fatalf("status %d, want %d: %s", resp.status, c.status, resp.body)
			}
			e := resp.graphErr(t)
			if e.Code != c.code || !strings.Contains(e.Message, c.msg) {
				t.Errorf("error %s %q, want %s containing %q", e.Code, e.Message, c.code, c.msg)
			}
		})
	}
	if n := rc.validationCount(); n != 0 {
		t.Errorf("refused requests made %d validation requests", n)
	}
	if subs := f.sim.Subscriptions(); len(subs) != 0 {
		t.Errorf("refused requests created %d subscriptions", len(subs))
	}
}

func TestSubscriptionAccepts650IDsAndEveryDocumentedSpelling(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	u := ten.Users[0].ID.String()
	ids := make([]uuid.UUID, 650)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for _, resource := range []string{
		bulkResource(ids...),
		"communications/presences/" + u,
		"/communications/presences/" + u,
		"/communications/presences?$filter=id in (" + u + ")",
		"communications/presences?$filter=id+in+(%27" + u + "%27)",
		"/communications/presences?%24filter=id%20in%20('" + u + "')",
	} {
		sub := f.subscribe(tok, f.subRequest(rc.URL, resource, false))
		if sub.Resource != resource {
			t.Errorf("resource echoed as %q, want %q", sub.Resource, resource)
		}
		if r := f.call(tok, http.MethodDelete, "/v1.0/subscriptions/"+sub.ID, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
	}
}

func TestOnePresenceSubscriptionPerUserAndAppAndNoDuplicateResource(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	first := f.subscribe(tok, f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))

	// The same user again, another resource: one per user per application.
	resp := f.call(tok, http.MethodPost, "/v1.0/subscriptions", f.subRequest(rc.URL, bulkResource(ten.Users[1].ID), false))
	if resp.status != http.StatusConflict {
		t.Fatalf("second subscription of the same user: %d %s", resp.status, resp.body)
	}
	if e := resp.graphErr(t); !strings.Contains(e.Message, first.ID) {
		t.Errorf("409 message does not name the existing subscription: %q", e.Message)
	}
	// Another user, the same changeType and resource: Graph's duplicate rule.
	tok2 := f.userToken(ten, ten.Monitors[1])
	resp = f.call(tok2, http.MethodPost, "/v1.0/subscriptions", f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	if resp.status != http.StatusConflict {
		t.Fatalf("duplicate resource: %d %s", resp.status, resp.body)
	}
	want := fmt.Sprintf("Subscription Id %s already exists for the requested combination", first.ID)
	if e := resp.graphErr(t); e.Message != want {
		t.Errorf("409 message %q, want %q", e.Message, want)
	}
	// After deleting, the user may subscribe again.
	if r := f.call(tok, http.MethodDelete, "/v1.0/subscriptions/"+first.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	f.subscribe(tok, f.subRequest(rc.URL, bulkResource(ten.Users[1].ID), false))
}

func TestValidationHandshakeFailuresRefuseTheSubscription(t *testing.T) {
	f := newFixture(t)
	f.sim.notify.validationTimeout = 300 * time.Millisecond
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	resource := bulkResource(ten.Users[0].ID)
	cases := []struct {
		name  string
		setup func(rc *receiver)
		msg   string
	}{
		{"500", func(rc *receiver) {
			rc.validateAnswer = func(string) (int, string, string) { return 500, "text/plain", "" }
		}, "Subscription validation request failed. HTTP status code is 'InternalServerError'. Notification endpoint must respond with 200 OK to validation request."},
		{"token still encoded", func(rc *receiver) {
			rc.validateAnswer = func(tok string) (int, string, string) {
				return 200, "text/plain", strings.ReplaceAll(tok, " ", "+")
			}
		}, msgValidationMatch},
		{"JSON content type", func(rc *receiver) {
			rc.validateAnswer = func(tok string) (int, string, string) { return 200, "application/json", tok }
		}, msgValidationMatch},
		{"too slow", func(rc *receiver) { rc.validateDelay = 2 * time.Second }, msgValidationTimeout},
		{"fault", func(rc *receiver) {
			if _, err := f.sim.AddNotificationFault(NotificationFault{NotificationURL: rc.URL, FailValidation: true}); err != nil {
				t.Fatal(err)
			}
		}, msgValidationFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t)
			c.setup(rc)
			resp := f.call(tok, http.MethodPost, "/v1.0/subscriptions", f.subRequest(rc.URL, resource, false))
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			if e := resp.graphErr(t); e.Code != "InvalidRequest" || e.Message != c.msg {
				t.Errorf("error %s %q, want %q", e.Code, e.Message, c.msg)
			}
			if len(f.sim.Subscriptions()) != 0 {
				t.Error("a subscription was created despite the failed handshake")
			}
		})
	}
	// A lifecycle URL that fails refuses the subscription too.
	good, bad := newReceiver(t), newReceiver(t)
	bad.validateAnswer = func(string) (int, string, string) { return 404, "text/plain", "" }
	body := f.subRequest(good.URL, resource, false)
	body["lifecycleNotificationUrl"] = bad.URL
	if resp := f.call(tok, http.MethodPost, "/v1.0/subscriptions", body); resp.status != http.StatusBadRequest ||
		!strings.Contains(resp.graphErr(t).Message, "'NotFound'") {
		t.Errorf("failing lifecycle URL: %d %s", resp.status, resp.body)
	}
}

func TestPatchRenewsRevalidatesANewURLAndKeepsTheLifecycleURL(t *testing.T) {
	f := newFixture(t)
	rc, rc2 := newReceiver(t), newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	body := f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false)
	body["lifecycleNotificationUrl"] = rc.URL
	sub := f.subscribe(tok, body)
	path := "/v1.0/subscriptions/" + sub.ID

	f.advance(30 * time.Minute)
	exp := f.clock().Add(60 * time.Minute).UTC()
	resp := f.call(tok, http.MethodPatch, path, map[string]any{"expirationDateTime": exp.Format(time.RFC3339Nano), "notificationUrl": rc2.URL})
	if resp.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", resp.status, resp.body)
	}
	var got Subscription
	resp.json(t, &got)
	if got.ExpirationDateTime != exp.Format(graphDateTime) || got.NotificationURL != rc2.URL {
		t.Errorf("after PATCH: %+v", got)
	}
	if rc2.validationCount() != 1 {
		t.Errorf("the new notificationUrl was validated %d times, want 1", rc2.validationCount())
	}
	resp = f.call(tok, http.MethodPatch, path, map[string]any{"lifecycleNotificationUrl": rc2.URL})
	if resp.status != http.StatusBadRequest || resp.graphErr(t).Code != "InvalidRequest" {
		t.Errorf("PATCH lifecycleNotificationUrl: %d %s", resp.status, resp.body)
	}
	resp = f.call(tok, http.MethodPatch, path, map[string]any{"expirationDateTime": f.clock().Add(61 * time.Minute).UTC().Format(time.RFC3339)})
	if resp.status != http.StatusBadRequest || resp.graphErr(t).Message != "Subscription expiration can only be 60 minutes in the future." {
		t.Errorf("PATCH to 61 minutes: %d %s", resp.status, resp.body)
	}
	if r := f.call(tok, http.MethodPost, path+"/reauthorize", nil); r.status != http.StatusNoContent {
		t.Errorf("reauthorize: %d %s", r.status, r.body)
	}
}

func TestOnlyTheCreatingAppSeesAndChangesASubscription(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	sub := f.subscribe(f.userToken(ten, f.monitor()), f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))

	// A second app registration, consented in the same tenant.
	other := SeedApp{ClientID: uuid.NewString(), ClientSecret: "other-secret", RedirectURIs: []string{redirectURI}}
	if err := f.sim.Apply(Seed{App: other}); err != nil {
		t.Fatal(err)
	}
	f.sim.mu.Lock()
	f.sim.grantLocked(f.sim.tenants[ten.ID], f.sim.apps[other.ClientID], f.clock())
	f.sim.mu.Unlock()
	cfg := f.oauthConfig(ten.ID.String())
	cfg.ClientID, cfg.ClientSecret = other.ClientID, other.ClientSecret
	cfg.Scopes = []string{"https://graph.microsoft.com/.default"}
	tk, err := cfg.PasswordCredentialsToken(ctx(t), f.monitor().UPN, f.monitor().Password)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		var body any
		if m == http.MethodPatch {
			body = map[string]any{"expirationDateTime": f.clock().Add(time.Hour).UTC().Format(time.RFC3339)}
		}
		resp := f.call(tk.AccessToken, m, "/v1.0/subscriptions/"+sub.ID, body)
		if resp.status != http.StatusNotFound || resp.graphErr(t).Code != "ResourceNotFound" {
			t.Errorf("%s by another app: %d %s", m, resp.status, resp.body)
		}
	}
	if resp := f.call(tk.AccessToken, http.MethodPost, "/v1.0/subscriptions/"+sub.ID+"/reauthorize", nil); resp.status != http.StatusNotFound {
		t.Errorf("reauthorize by another app: %d", resp.status)
	}
	if len(f.sim.Subscriptions()) != 1 {
		t.Error("another app deleted the subscription")
	}
}

func TestExpiredSubscriptionIsDeleted(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	sub := f.subscribe(tok, f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	f.advance(56 * time.Minute)
	f.sim.TickNotifications()
	tok = f.userToken(ten, f.monitor()) // the first token has expired too
	for _, m := range []string{http.MethodGet, http.MethodPatch} {
		var body any
		if m == http.MethodPatch {
			body = map[string]any{"expirationDateTime": f.clock().Add(time.Hour).UTC().Format(time.RFC3339)}
		}
		if resp := f.call(tok, m, "/v1.0/subscriptions/"+sub.ID, body); resp.status != http.StatusNotFound {
			t.Errorf("%s of an expired subscription: %d %s", m, resp.status, resp.body)
		}
	}
	if len(f.sim.Subscriptions()) != 0 {
		t.Error("the expired subscription is still listed")
	}
	// The user may subscribe again.
	f.subscribe(tok, f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
}

func TestSubscriptionWritesAreThrottled(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t)
	ten := f.tenant()
	tok := f.userToken(ten, f.monitor())
	if err := f.sim.SetThrottleLimit("subscriptionWrite", ThrottleLimit{Requests: 1, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	f.subscribe(tok, f.subRequest(rc.URL, bulkResource(ten.Users[0].ID), false))
	resp := f.call(tok, http.MethodPost, "/v1.0/subscriptions", f.subRequest(rc.URL, bulkResource(ten.Users[1].ID), false))
	if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") == "" || resp.graphErr(t).Code != "TooManyRequests" {
		t.Errorf("second write: %d %s", resp.status, resp.body)
	}
	if r := f.call(tok, http.MethodGet, "/v1.0/subscriptions", nil); r.status != http.StatusOK {
		t.Errorf("reads have their own budget: %d", r.status)
	}
}
