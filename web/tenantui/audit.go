package tenantui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
	"presencebridge/templates"
)

// auditPageSize is how many entries a page of the audit log shows.
const auditPageSize = 50

// auditActorKinds are the filter's kinds of actor, as the audit log
// records them (store.AuditEntry.Actor).
var auditActorKinds = []templates.AuditKind{
	{Value: "", Label: "Anyone"},
	{Value: "portal", Label: "Portal admins"},
	{Value: "apikey", Label: "API keys"},
	{Value: "admin", Label: "Onboarding"},
	{Value: "staff", Label: "Presence Bridge staff"},
	{Value: "system", Label: "Presence Bridge (automatic)"},
}

// auditRoutes is the Audit log: who did what to the tenant and when,
// filtered by kind of actor, action and dates, a page at a time.
func (h *handler) auditRoutes(r chi.Router) {
	r.Get("/", h.auditLog)
}

func (h *handler) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := templates.AuditFilter{Actor: q.Get("actor"), Action: strings.TrimSpace(q.Get("action")), From: strings.TrimSpace(q.Get("from")),
		To: strings.TrimSpace(q.Get("to")), Kinds: auditActorKinds, Errors: map[string]string{}}
	query := store.AuditQuery{ActorKind: f.Actor, Action: f.Action, Limit: auditPageSize}
	if !knownKind(f.Actor) {
		f.Errors["actor"] = "Choose one of the kinds listed."
	}
	if f.From != "" {
		if d, err := time.Parse("2006-01-02", f.From); err != nil {
			f.Errors["from"] = "Enter the date as yyyy-mm-dd."
		} else {
			query.Since = &d
		}
	}
	if f.To != "" {
		if d, err := time.Parse("2006-01-02", f.To); err != nil {
			f.Errors["to"] = "Enter the date as yyyy-mm-dd."
		} else {
			d = d.AddDate(0, 0, 1) // through the end of that day
			query.Until = &d
		}
	}
	v := templates.TenantAuditView{Filter: f}
	if len(f.Errors) > 0 {
		h.render(w, r, http.StatusUnprocessableEntity, templates.TenantAudit(h.frame(r, "audit"), v))
		return
	}
	p, err := h.Views.AuditLog(r.Context(), h.Viewer(r).TenantID, query, q.Get("cursor"))
	if errors.Is(err, tenantview.ErrBadCursor) {
		http.Redirect(w, r, h.Viewer(r).Base+"/audit/", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, "read audit log", err)
		return
	}
	for _, l := range p.Lines {
		detail, _ := json.Marshal(l.Detail)
		if string(detail) == "{}" || string(detail) == "null" {
			detail = nil
		}
		v.Lines = append(v.Lines, templates.AuditLine{At: l.At.UTC().Format("2 Jan 2006 15:04:05 UTC"), Who: l.Who, Action: l.Action,
			Detail: string(detail)})
	}
	if p.Next != "" {
		next := url.Values{"cursor": {p.Next}}
		for _, k := range []string{"actor", "action", "from", "to"} {
			if q.Get(k) != "" {
				next.Set(k, q.Get(k))
			}
		}
		v.Next = h.Viewer(r).Base + "/audit/?" + next.Encode()
	}
	h.render(w, r, http.StatusOK, templates.TenantAudit(h.frame(r, "audit"), v))
}

func knownKind(k string) bool {
	for _, o := range auditActorKinds {
		if o.Value == k {
			return true
		}
	}
	return false
}
