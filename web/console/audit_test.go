package console_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"presencebridge/internal/staff"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
	"presencebridge/web/console"
)

// auditRows are the audit log page's entries as text.
func auditRows(p page) []string {
	var out []string
	for _, r := range regexp.MustCompile(`(?s)<li class="audit-row">.*?</li>`).FindAllString(p.Body, -1) {
		out = append(out, strings.Join(strings.Fields(page{Body: r}.Text()), " "))
	}
	return out
}

// The log across tenants holds the entries of no tenant too (a staff
// member's sign-in and lock), and keeps one tenant (by name or id), one
// actor or a kind of actor, and an action prefix.
func TestTheAuditLogAcrossTenantsFiltersByTenantActorAndAction(t *testing.T) {
	s := newSite(t, console.Limits{})
	fabrikam := storetest.Tenant(t, s.Store.Pool(), "Fabrikam")
	for _, e := range []struct {
		tenant        any
		actor, action string
	}{
		{s.Tenant, "staff:help@vendor.example", "tenant.suspended"},
		{fabrikam, "portal:0000", "endpoint.created"},
		{fabrikam, "system", "tenant.degraded"},
		{nil, "staff:gone@vendor.example", "staff.locked"},
	} {
		testkit.Exec(t, s.Store.Pool(), `INSERT INTO audit_log (tenant_id, actor, action, detail) VALUES ($1, $2, $3, '{"why": "test"}')`,
			e.tenant, e.actor, e.action)
	}
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example") // audited: staff.signed_in, of no tenant

	all := auditRows(b.Get("/console/audit/"))
	if len(all) != 6 || !strings.HasPrefix(all[0], "staff.signed_in staff:look@vendor.example no tenant") {
		t.Fatalf("the whole log, newest first: %q", all)
	}
	if !strings.Contains(strings.Join(all, "\n"), `staff.locked staff:gone@vendor.example no tenant`) ||
		!strings.Contains(strings.Join(all, "\n"), `tenant.suspended staff:help@vendor.example Contoso`) ||
		!strings.Contains(strings.Join(all, "\n"), `{"why":"test"}`) {
		t.Errorf("the log:\n%s", strings.Join(all, "\n"))
	}
	for query, want := range map[string][]string{
		"tenant=fabrikam":                     {"tenant.degraded", "endpoint.created"},
		"tenant=" + fabrikam.String():         {"tenant.degraded", "endpoint.created"},
		"actor=staff:help@vendor.example":     {"tenant.suspended"},
		"actor=staff":                         {"staff.signed_in", "staff.added", "staff.locked", "tenant.suspended"},
		"actor=system":                        {"tenant.degraded"},
		"action=tenant.":                      {"tenant.degraded", "tenant.suspended"},
		"tenant=fabrikam&action=endpoint.cre": {"endpoint.created"},
		"actor=nobody":                        nil,
	} {
		var got []string
		for _, r := range auditRows(b.Get("/console/audit/?" + query)) {
			got = append(got, strings.Fields(r)[0])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want %q", query, got, want)
		}
	}
}

// The log pages newest first by keyset, its filter kept on the way.
func TestTheAuditLogAcrossTenantsPagesWithItsFilter(t *testing.T) {
	s := newSite(t, console.Limits{})
	testkit.Exec(t, s.Store.Pool(), `INSERT INTO audit_log (tenant_id, actor, action, at)
		SELECT $1, 'system', 'tenant.step' || lpad(i::text, 2, '0'), now() - i * interval '1 second' FROM generate_series(0, 59) i`, s.Tenant)
	s.add("look@vendor.example", staff.Viewer)
	b := s.browser()
	b.signIn("look@vendor.example")
	var seen []string
	path := "/console/audit/?action=tenant.step"
	for range 3 {
		p := b.Get(path)
		if p.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, p.Status)
		}
		for _, r := range auditRows(p) {
			seen = append(seen, strings.Fields(r)[0])
		}
		m := regexp.MustCompile(`<a href="([^"]+)" id="next-page"`).FindStringSubmatch(p.Body)
		if m == nil {
			break
		}
		if !strings.Contains(m[1], "action=tenant.step") {
			t.Fatalf("the next page drops the filter: %s", m[1])
		}
		path = unescapeAmp(m[1])
	}
	if len(seen) != 60 || seen[0] != "tenant.step00" || seen[59] != "tenant.step59" {
		t.Errorf("%d entries over the pages, from %v", len(seen), seen[:min(3, len(seen))])
	}
	for i := range seen {
		if want := fmt.Sprintf("tenant.step%02d", i); seen[i] != want {
			t.Fatalf("entry %d is %s, want %s", i, seen[i], want)
		}
	}
}
