package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"presencebridge/internal/store"
	"presencebridge/templates"
)

// The audit log across tenants (/console/audit): every entry, those of no
// tenant too (staff sign-ins and locks, purged tenants), newest first,
// filtered by tenant, actor and action, a page at a time.

// auditPage is how many entries a page shows.
const auditPage = 50

// auditTrail is GET /console/audit/: ?tenant= (an id, or part of a
// name), ?actor= (one actor, "staff:ana@vendor.example", or a kind,
// "staff"), ?action= (a prefix, "tenant."), ?after= a page's cursor.
func (h *handler) auditTrail(w http.ResponseWriter, r *http.Request) {
	in := r.URL.Query()
	f := templates.ConsoleAuditFilter{Tenant: strings.TrimSpace(in.Get("tenant")), Actor: strings.TrimSpace(in.Get("actor")),
		Action: strings.TrimSpace(in.Get("action"))}
	q := store.AuditTrailQuery{Actor: f.Actor, Action: f.Action, Limit: auditPage}
	q.TenantID, q.TenantName = tenantFilter(f.Tenant)
	if c, ok := afterTime(in); ok {
		q.After = &store.AuditEntry{At: c.At, ID: c.ID}
	}
	page, more, err := h.Store.AuditTrail(r.Context(), q)
	if err != nil {
		h.fail(w, r, "audit trail", err)
		return
	}
	v := templates.ConsoleAuditView{Filter: f}
	for _, e := range page {
		line := templates.ConsoleAuditLine{At: e.At.UTC().Format("2 Jan 2006 15:04:05 UTC"), Actor: e.Actor, Action: e.Action,
			Tenant: e.TenantName, ActorURL: auditURL(url.Values{"actor": {e.Actor}})}
		if e.TenantID != nil {
			line.TenantURL = auditURL(url.Values{"tenant": {e.TenantID.String()}})
			if line.Tenant == "" {
				line.Tenant = "a tenant since purged"
			}
		}
		if detail, _ := json.Marshal(e.Detail); string(detail) != "{}" && string(detail) != "null" {
			line.Detail = string(detail)
		}
		v.Lines = append(v.Lines, line)
	}
	kept := url.Values{}
	for k, val := range map[string]string{"tenant": f.Tenant, "actor": f.Actor, "action": f.Action} {
		if val != "" {
			kept.Set(k, val)
		}
	}
	if more {
		last := page[len(page)-1]
		next := url.Values{"after": {encodeCursor(timeCursor{At: last.At, ID: last.ID})}}
		for k := range kept {
			next.Set(k, kept.Get(k))
		}
		v.Next = auditURL(next)
	}
	if q.After != nil {
		v.First = auditURL(kept)
	}
	h.render(w, r, http.StatusOK, templates.ConsoleAudit(h.frame(r, "audit"), v))
}

// auditURL is the audit log with the query q.
func auditURL(q url.Values) string { return Prefix + "/audit/?" + q.Encode() }
