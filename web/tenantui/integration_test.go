package tenantui_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/tenantview"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
	"presencebridge/web/tenantui"
)

var (
	secretRE = regexp.MustCompile(`id="signing-secret"[^>]*value="(whsec_[^"]+)"`)
	keyRE    = regexp.MustCompile(`id="new-api-key"[^>]*value="(pbk_[^"]+)"`)
)

// signedIn is the portal with its tenant's admin signed in, on the
// Integration page.
func signedIn(t *testing.T) (*portaltest.Portal, *portaltest.Browser) {
	t.Helper()
	p := portaltest.New(t)
	b := p.Browser()
	b.SignIn()
	portaltest.WantPage(t, b.Get("/portal/integration/"), 200, "Webhooks", "API keys", "Mapping rules")
	return p, b
}

// addWebhook adds a webhook at u through the form and returns its page's
// path and the signing secret shown there.
func addWebhook(t *testing.T, b *portaltest.Browser, u string) (string, string) {
	t.Helper()
	pg := b.Post("/portal/integration/webhooks", url.Values{"url": {u}, "description": {"contact center"}})
	if pg.Status != http.StatusSeeOther || !strings.HasPrefix(pg.Location, "/portal/integration/webhooks/") {
		t.Fatalf("add webhook: %d %q\n%s", pg.Status, pg.Location, pg.Body)
	}
	page := b.Get(pg.Location)
	m := secretRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("the new webhook's page shows no signing secret:\n%s", page.Body)
	}
	return pg.Location, m[1]
}

// publish records a presence change of a new user of the tenant, as the
// processor does: one delivery for each enabled endpoint.
func publish(t *testing.T, st *store.Store, tenant uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	err := st.InTx(ctx, func(tx store.Tx) error {
		_, _, err := tx.ApplyPresence(ctx, store.PresenceChange{TenantID: tenant, UserID: uuid.New(), Availability: "Busy",
			Activity: "InACall", MappedState: "talking", Source: "notification", ObservedAt: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deliverOne sends the one due delivery.
func deliverOne(t *testing.T, st *store.Store) {
	t.Helper()
	if n, err := deliver.New(st, deliver.Options{AllowPrivate: true}).RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("deliver: %d, %v", n, err)
	}
}

func auditActors(t *testing.T, st *store.Store, tenant uuid.UUID, action string) []string {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT actor FROM audit_log WHERE tenant_id = $1 AND action = $2 ORDER BY id`, tenant, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		rows.Scan(&a)
		out = append(out, a)
	}
	return out
}

func TestARotatedWebhookSecretIsShownOnceAndSignsTheNextDeliveryBesideTheOldOneUntilTheOverlapEnds(t *testing.T) {
	p, b := signedIn(t)
	rx := testkit.NewWebhookReceiver(t)
	page, oldSecret := addWebhook(t, b, rx.URL)
	if pg := b.Get(page); secretRE.MatchString(pg.Body) {
		t.Error("the signing secret shows again on reload")
	}

	pg := b.Post(page+"/rotate", url.Values{"overlap": {"3600"}})
	if pg.Status != http.StatusSeeOther || pg.Location != page {
		t.Fatalf("rotate: %d %q", pg.Status, pg.Location)
	}
	shown := b.Get(page)
	m := secretRE.FindStringSubmatch(shown.Body)
	if m == nil || m[1] == oldSecret {
		t.Fatalf("after rotating, the page shows no new secret:\n%s", shown.Body)
	}
	newSecret := m[1]
	portaltest.WantPage(t, shown, 200, "Signing secret rotated.", "The previous signing secret still signs until")
	if pg := b.Get(page); secretRE.MatchString(pg.Body) {
		t.Error("the new secret shows again on reload")
	}

	publish(t, p.Store, p.Tenant.ID)
	deliverOne(t, p.Store)
	if !rx.LastVerifies(t, newSecret) || !rx.LastVerifies(t, oldSecret) {
		t.Error("during the overlap the next delivery does not verify with both the new and the old secret")
	}
	testkit.Exec(t, p.Store.Pool(), `UPDATE endpoints SET previous_signing_secret_expires_at = now() - interval '1 second'`)
	publish(t, p.Store, p.Tenant.ID)
	deliverOne(t, p.Store)
	if !rx.LastVerifies(t, newSecret) || rx.LastVerifies(t, oldSecret) {
		t.Error("after the overlap a delivery is not signed with the new secret alone")
	}
	admin := "portal:" + p.Seed.Tenants[0].Admin.ID.String()
	if got := auditActors(t, p.Store, p.Tenant.ID, "endpoint.secret_rotated"); len(got) != 1 || got[0] != admin {
		t.Errorf("rotation audited as %v, want once as %s", got, admin)
	}
	storetest.RequireNotStored(t, p.Store.Pool(), newSecret)
}

func TestAWebhookURLTheAPIRefusesIsRefusedOnTheFormInWords(t *testing.T) {
	p, b := signedIn(t)
	for u, words := range map[string]string{
		"http://events.example.com/presence": "Use an https URL",
		"https://10.1.2.3/presence":          "not reachable from the internet",
		"":                                   "Enter the https URL",
	} {
		pg := b.Post("/portal/integration/webhooks", url.Values{"url": {u}})
		portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, words)
		if u != "" && !strings.Contains(pg.Body, `value="`+u+`"`) {
			t.Errorf("the URL typed, %s, is not kept on the form", u)
		}
	}
	if eps, _ := p.Store.Endpoints(t.Context(), p.Tenant.ID); len(eps) != 0 {
		t.Errorf("%d endpoints made of refused URLs", len(eps))
	}
}

func TestADisabledWebhooksDeadDeliveriesAreReplayedOnceItIsEnabled(t *testing.T) {
	p, b := signedIn(t)
	rx := testkit.NewWebhookReceiver(t)
	page, _ := addWebhook(t, b, rx.URL)
	publish(t, p.Store, p.Tenant.ID)
	b.Get(page)
	if pg := b.Post(page+"/disable", url.Values{}); pg.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", pg.Status)
	}
	pg := b.Get(page)
	portaltest.WantPage(t, pg, 200, "Webhook disabled", "Disabled", "1 dead", "dead",
		"Enable the webhook to replay what it missed: 1 dead delivery, kept in order.")
	if strings.Contains(pg.Body, "replay-all") || strings.Contains(pg.Body, `class="secondary replay"`) {
		t.Error("Replay is offered for a disabled webhook")
	}
	// A replay posted anyway is refused in words, and nothing is queued.
	if pg := b.Post(page+"/replay", url.Values{}); pg.Status != http.StatusSeeOther {
		t.Fatalf("replay while disabled: %d", pg.Status)
	}
	portaltest.WantPage(t, b.Get(page), 200, "Enable the webhook first.")
	b.Post(page+"/enable", url.Values{})
	portaltest.WantPage(t, b.Get(page), 200, "Webhook enabled", "Replay every dead and superseded delivery")
	if pg := b.Post(page+"/replay", url.Values{}); pg.Status != http.StatusSeeOther {
		t.Fatalf("replay: %d", pg.Status)
	}
	portaltest.WantPage(t, b.Get(page), 200, "1 delivery sent again.")
	deliverOne(t, p.Store)
	if rx.Count() != 1 {
		t.Errorf("the replayed delivery reached the receiver %d times", rx.Count())
	}
}

func TestATestEventReachesTheWebhookSignedAndThePageSaysHowItWent(t *testing.T) {
	_, b := signedIn(t)
	rx := testkit.NewWebhookReceiver(t)
	page, secret := addWebhook(t, b, rx.URL)
	if pg := b.Post(page+"/test", url.Values{}); pg.Status != http.StatusSeeOther {
		t.Fatalf("test: %d", pg.Status)
	}
	portaltest.WantPage(t, b.Get(page), 200, "The test event was delivered.", "HTTP 204")
	if !rx.LastVerifies(t, secret) {
		t.Error("the test event does not verify with the webhook's secret")
	}
}

func TestARevokedAPIKeyIsRefused(t *testing.T) {
	p, b := signedIn(t)
	exp := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	pg := b.Post("/portal/integration/keys", url.Values{"name": {"contact center"}, "scopes": {"presence:read", "events:read"}, "expiresAt": {exp}})
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("create key: %d\n%s", pg.Status, pg.Body)
	}
	shown := b.Get("/portal/integration/")
	m := keyRE.FindStringSubmatch(shown.Body)
	if m == nil {
		t.Fatalf("the new key is not shown:\n%s", shown.Body)
	}
	key := m[1]
	if pg := b.Get("/portal/integration/"); keyRE.MatchString(pg.Body) {
		t.Error("the key shows again on reload")
	}
	k, err := p.Store.AuthenticateAPIKey(t.Context(), key)
	if err != nil || strings.Join(k.Scopes, " ") != "presence:read events:read" || k.ExpiresAt == nil {
		t.Fatalf("the key shown authenticates as %+v, %v", k, err)
	}
	// The platform uses it (and the API's key cache now holds it).
	api := tenantAPI(t, p)
	if code := apiStatus(t, api, key, "/api/v1/presence"); code != http.StatusOK {
		t.Fatalf("the new key reading presence through the API: %d", code)
	}
	pg = b.Post("/portal/integration/keys/"+k.ID.String()+"/revoke", url.Values{})
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", pg.Status)
	}
	portaltest.WantPage(t, b.Get("/portal/integration/"), 200, "API key contact center revoked.", "revoked")
	// Refused at once though cached: the revocation's NOTIFY evicts it.
	deadline := time.Now().Add(5 * time.Second)
	for code := apiStatus(t, api, key, "/api/v1/presence"); code != http.StatusUnauthorized; code = apiStatus(t, api, key, "/api/v1/presence") {
		if time.Now().After(deadline) {
			t.Fatalf("the revoked key still reads presence through the API: %d", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := p.Store.AuthenticateAPIKey(t.Context(), key); !errors.Is(err, store.ErrBadAPIKey) {
		t.Errorf("the revoked key authenticates: %v", err)
	}
	admin := "portal:" + p.Seed.Tenants[0].Admin.ID.String()
	if got := auditActors(t, p.Store, p.Tenant.ID, "api_key.revoked"); len(got) != 1 || got[0] != admin {
		t.Errorf("revocation audited as %v", got)
	}
}

func TestAnAPIKeyWithoutAScopeOrWithAPastExpiryIsRefusedInWords(t *testing.T) {
	p, b := signedIn(t)
	pg := b.Post("/portal/integration/keys", url.Values{"name": {"platform"}})
	portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, "Choose at least one thing the key may do.")
	pg = b.Post("/portal/integration/keys", url.Values{"name": {"platform"}, "scopes": {"admin"}, "expiresAt": {"2001-01-01"}})
	portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, "Choose an expiry in the future, or none.")
	if keys, _ := p.Store.APIKeys(t.Context(), p.Tenant.ID); len(keys) != 0 {
		t.Errorf("%d keys made of refused forms", len(keys))
	}
}

// rulesForm is the default rules as the form posts them, with changes.
func rulesForm(changes map[string]string) url.Values {
	f := url.Values{"talkingInCall": {"on"}, "talkingInConferenceCall": {"on"}, "talkingInMeeting": {"on"}, "talkingPresenting": {"on"},
		"availableIdle": {"away"}, "busyIdle": {"busy"}, "debounce": {"3s"}}
	for k, v := range changes {
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
	}
	return f
}

func TestMappingRulesAreValidatedAsTheAPIDoesAndSavedWithTheAdminAudited(t *testing.T) {
	p, b := signedIn(t)
	pg := b.Post("/portal/integration/rules", rulesForm(map[string]string{"busyIdle": "purple"}))
	portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, `BusyIdle: "purple" is not a state`)
	pg = b.Post("/portal/integration/rules", rulesForm(map[string]string{"overrides": "Busy InACall talking"}))
	portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, "Overrides, line 1: write Availability/Activity = state")
	if rules, _ := p.Store.TenantRules(t.Context(), p.Tenant.ID); !rules.TalkingInCall {
		t.Fatal("refused rules were saved")
	}

	pg = b.Post("/portal/integration/rules", rulesForm(map[string]string{"talkingInCall": "", "overrides": "Away/Away = offline"}))
	if pg.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", pg.Status, pg.Body)
	}
	portaltest.WantPage(t, b.Get("/portal/integration/"), 200, "Mapping rules saved.", "Away/Away = offline")
	rules, err := p.Store.TenantRules(t.Context(), p.Tenant.ID)
	if err != nil || rules.TalkingInCall || rules.Map("Away", "Away", presence.Rich{}) != presence.Offline {
		t.Errorf("saved rules: %+v %v", rules, err)
	}
	admin := "portal:" + p.Seed.Tenants[0].Admin.ID.String()
	if got := auditActors(t, p.Store, p.Tenant.ID, "mapping_rules.updated"); len(got) != 1 || got[0] != admin {
		t.Errorf("rules audited as %v", got)
	}
}

func TestThePreviewShowsWhatUnsavedRulesGive(t *testing.T) {
	p, b := signedIn(t)
	busyInACall := regexp.MustCompile(`Busy / InACall</dt><dd class="preview-state">(\w+)<`)
	for _, path := range []string{"/portal/integration/rules/preview", "/portal/integration/rules/preview?fragment=1"} {
		pg := b.Post(path, rulesForm(map[string]string{"talkingInCall": ""}))
		if m := busyInACall.FindStringSubmatch(pg.Body); pg.Status != 200 || m == nil || m[1] != "busy" {
			t.Errorf("%s without talking in a call: %d %v\n%s", path, pg.Status, m, pg.Body)
		}
	}
	pg := b.Post("/portal/integration/rules/preview?fragment=1", rulesForm(map[string]string{"availableIdle": "sleepy"}))
	portaltest.WantPage(t, pg, http.StatusUnprocessableEntity, "No preview:", `"sleepy" is not a state`)
	if rules, _ := p.Store.TenantRules(t.Context(), p.Tenant.ID); !rules.TalkingInCall {
		t.Error("a preview saved the rules")
	}
}

// pagesWith mounts the tenant pages for one tenant with who and
// requireFresh as the surface's, without a surface's sign-in.
func pagesWith(t *testing.T, canChange bool, requireFresh func(http.ResponseWriter, *http.Request) bool) (*store.Store, uuid.UUID, string) {
	t.Helper()
	st := store.New(testkit.DB(t), storetest.Ring(t))
	ten, err := st.CreateTenant(t.Context(), "Contoso", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	who := tenantui.Viewer{TenantID: ten.ID, Actor: "staff:1", Name: "support", Base: "/t", SignOut: "/signout", CanChange: canChange}
	r := chi.NewRouter()
	r.Route("/t", tenantui.Routes(tenantui.Deps{Store: st, Views: tenantview.New(st), Viewer: func(*http.Request) tenantui.Viewer { return who },
		CSRFToken: func(context.Context) string { return "" }, RequireFresh: requireFresh, AllowLoopbackWebhooks: true}))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return st, ten.ID, srv.URL
}

func post(t *testing.T, u string, form url.Values) *http.Response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestAStaleSignInRevealsNoSecretAndCreatesNoKey(t *testing.T) {
	stale := func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, "/sign-in-again", http.StatusSeeOther)
		return false
	}
	st, tenant, base := pagesWith(t, true, stale)
	ep, _, err := deliver.AddEndpoint(t.Context(), st, tenant, deliver.Settings{URL: "https://events.example.com/p"}, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	for path, form := range map[string]url.Values{
		"/t/integration/webhooks":                               {"url": {"https://events.example.com/q"}},
		"/t/integration/webhooks/" + ep.ID.String() + "/reveal": {},
		"/t/integration/webhooks/" + ep.ID.String() + "/rotate": {"overlap": {"0"}},
		"/t/integration/keys":                                   {"name": {"k"}, "scopes": {"admin"}},
	} {
		if resp := post(t, base+path, form); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/sign-in-again" {
			t.Errorf("POST %s with a stale sign-in: %d %s, want sent to sign in again", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	var n int
	st.Pool().QueryRow(t.Context(), `SELECT (SELECT count(*) FROM audit_log WHERE action <> 'endpoint.created') + (SELECT count(*) FROM api_keys)
		+ (SELECT count(*) FROM endpoints) - 1`).Scan(&n)
	if n != 0 {
		t.Errorf("a stale sign-in changed or revealed %d things", n)
	}
}

func TestAViewerWhoMayOnlyLookChangesNothing(t *testing.T) {
	st, tenant, base := pagesWith(t, false, func(http.ResponseWriter, *http.Request) bool { return true })
	ep, _, err := deliver.AddEndpoint(t.Context(), st, tenant, deliver.Settings{URL: "https://events.example.com/p"}, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	id := ep.ID.String()
	for path, form := range map[string]url.Values{
		"/t/integration/webhooks":                    {"url": {"https://events.example.com/q"}},
		"/t/integration/webhooks/" + id:              {"url": {"https://events.example.com/r"}},
		"/t/integration/webhooks/" + id + "/disable": {},
		"/t/integration/webhooks/" + id + "/reveal":  {},
		"/t/integration/webhooks/" + id + "/rotate":  {},
		"/t/integration/webhooks/" + id + "/test":    {},
		"/t/integration/webhooks/" + id + "/replay":  {},
		"/t/integration/keys":                        {"name": {"k"}, "scopes": {"admin"}},
		"/t/integration/rules":                       rulesForm(map[string]string{"talkingInCall": ""}),
	} {
		if resp := post(t, base+path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s by a viewer: %d, want 403", path, resp.StatusCode)
		}
	}
	var n int
	st.Pool().QueryRow(t.Context(), `SELECT (SELECT count(*) FROM audit_log WHERE action <> 'endpoint.created') + (SELECT count(*) FROM api_keys)
		+ (SELECT count(*) FROM endpoints WHERE enabled AND url = 'https://events.example.com/p') - 1`).Scan(&n)
	if n != 0 {
		t.Errorf("a viewer changed %d things", n)
	}
}
