package tenantui_test

import (
	"strings"
	"testing"
	"time"

	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
	"presencebridge/web/portal/portaltest"
)

// Home at a glance (issue 13): write-back consent with "Grant again" when
// it is missing, the last notification, the webhooks' backlog, and each
// open alert with where it is fixed.
func TestHomeShowsWriteBackConsentLastNotificationDeliveryHealthAndEachAlertsFix(t *testing.T) {
	p := portaltest.New(t)
	ctx := t.Context()
	b := p.Browser()
	b.SignIn()
	pg := b.Get("/portal/")
	wantBody(t, pg, `id="write-back">granted<`, `id="last-notification">none yet<`,
		`id="delivery">0 webhooks, 0 deliveries waiting, 0 dead<`)
	if strings.Contains(pg.Body, "grant-again") {
		t.Error("Grant again offered with nothing missing")
	}

	consent := "https://login.example/adminconsent?client_id=x"
	if err := p.Store.RaiseAlert(ctx, p.Tenant.ID, store.AlertWriteBackConsent, "Presence.ReadWrite.All", "Re-consent needed for presence write-back.",
		map[string]any{"consent_url": consent}); err != nil {
		t.Fatal(err)
	}
	m, err := p.Store.AddMonitor(ctx, p.Tenant.ID, p.Seed.Tenants[0].Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Store.RaiseAlert(ctx, p.Tenant.ID, store.AlertMonitorNeedsReauth, m.ID.String(), "Presence monitor must sign in again.", nil); err != nil {
		t.Fatal(err)
	}
	testkit.Exec(t, p.Store.Pool(), `INSERT INTO subscriptions (tenant_id, monitor_id, graph_id, resource, last_notification_at)
		VALUES ($1, $2, 'g-1', 'r', $3)`, p.Tenant.ID, m.ID, time.Date(2026, 11, 30, 8, 9, 10, 0, time.UTC))
	rx := testkit.NewWebhookReceiver(t)
	b.Get("/portal/integration/")
	addWebhook(t, b, rx.URL)
	publish(t, p.Store, p.Tenant.ID)

	pg = b.Get("/portal/")
	wantBody(t, pg, `id="write-back">not granted: the platform cannot set presence in Teams`,
		`id="last-notification">30 Nov 2026 08:09:10 UTC<`, `id="delivery">1 webhook, 1 delivery waiting, 0 dead<`,
		"Presence monitor must sign in again.")
	for _, want := range []string{`id="grant-again" href="` + consent + `"`, `href="/portal/monitors/" class="alert-fix">Open Monitors<`,
		`href="` + consent + `" class="alert-fix">Grant again<`} {
		if !strings.Contains(strings.ReplaceAll(pg.Body, "&amp;", "&"), want) {
			t.Errorf("Home lacks %s", want)
		}
	}
}
