package tenantui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"presencebridge/web/portal/portaltest"
	"presencebridge/web/tenantui"
)

// Verify configuration from the portal: the checks run against graphsim
// and the product's own notification URL, each with its result; a monitor
// never signed in fails with Copy URL as the button that fixes it, and the
// run is in the audit log under the admin's name.
func TestVerifyConfigurationShowsEachCheckWithTheButtonThatFixesIt(t *testing.T) {
	p := portaltest.New(t)
	m, err := p.Store.AddMonitor(t.Context(), p.Tenant.ID, p.Seed.Tenants[0].Monitors[0].UPN)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Browser()
	b.SignIn()
	portaltest.WantPage(t, b.Get("/portal/verify/"), http.StatusOK, "Verify configuration", "Run the checks")
	pg := b.Post("/portal/verify/", url.Values{})
	portaltest.WantPage(t, pg, http.StatusOK, "checks failed",
		"Passed Admin consent and permissions",
		"Passed Notification URL answers Graph's validation",
		"Failed Monitor "+m.UPN+" signs in", "The monitor is pending",
		"Failed Users resolve in the directory", "The roster is empty")
	if !strings.Contains(pg.Body, `action="/portal/monitors/`+m.ID.String()+`/link"`) {
		t.Errorf("no Copy URL button for the monitor:\n%s", pg.Body)
	}
	var n int
	if err := p.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.verified'
		AND actor = $2 AND (detail->'results'->>'fail')::int >= 2`, p.Tenant.ID, "portal:"+p.Seed.Tenants[0].Admin.ID.String()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d audit entries of the run, want 1", n)
	}
}

// A viewer who may only look sees the page without its button, and a
// forged POST is refused before anything is checked.
func TestAViewerCannotRunVerify(t *testing.T) {
	p := portaltest.New(t)
	srv := lookOnly(t, p, tenantui.Deps{})
	resp, err := http.Get(srv.URL + "/t/verify/")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || strings.Contains(body, "verify-run") {
		t.Errorf("GET: %d, button offered: %v", resp.StatusCode, strings.Contains(body, "verify-run"))
	}
	resp, err = http.PostForm(srv.URL+"/t/verify/", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's POST: %d, want 403", resp.StatusCode)
	}
	var n int
	p.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'tenant.verified'`).Scan(&n)
	if n != 0 {
		t.Errorf("%d runs audited after a refused POST", n)
	}
}
