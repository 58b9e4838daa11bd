package tenantui

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/onboarding"
	"presencebridge/templates"
)

// appRoutes is App registration: the app a tenant's access goes through,
// and for an own app its secret's expiry, its forecast of warnings and the
// form that replaces the secret (or the app).
func (h *handler) appRoutes(r chi.Router) {
	r.Get("/", h.showApp)
	r.Post("/", h.replaceApp)
}

func (h *handler) showApp(w http.ResponseWriter, r *http.Request) {
	v, err := h.appView(r)
	if err != nil {
		h.fail(w, r, "read app registration", err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "secret":
		v.Done = &templates.Notice{OK: true, Title: "The new client secret was accepted.",
			Detail: "Microsoft issued a token with it; Presence Bridge uses it from now on. You can delete the old secret in the app registration."}
	case "app":
		v.Done = &templates.Notice{OK: true, Title: "The app registration was accepted.",
			Detail: "Monitors signed in through the earlier app must sign in again: see Monitors."}
	}
	h.render(w, r, http.StatusOK, templates.TenantApp(h.frame(r, "app"), v))
}

// replaceApp is POST /app/: a new client secret for the tenant's own app
// (or another app registration), proved with a token from the identity
// platform before it is stored (onboarding.Service.SetOwnApp). The secret
// is never echoed back, put in the session or logged.
func (h *handler) replaceApp(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) || !h.RequireFresh(w, r) {
		return
	}
	ctx := r.Context()
	who := h.Viewer(r)
	before, err := h.Views.AppRegistration(ctx, who.TenantID, h.Now())
	if err != nil {
		h.fail(w, r, "read app registration", err)
		return
	}
	if !before.Own {
		http.Redirect(w, r, who.Base+"/app/", http.StatusSeeOther)
		return
	}
	a := onboarding.OwnApp{ClientID: strings.TrimSpace(r.PostFormValue("clientId")), TenantID: strings.TrimSpace(r.PostFormValue("tenantId")),
		ClientSecret: strings.TrimSpace(r.PostFormValue("clientSecret")), SecretExpires: strings.TrimSpace(r.PostFormValue("secretExpires"))}
	r.PostForm.Del("clientSecret")
	r.Form.Del("clientSecret")
	fe, err := h.Onboarding.SetOwnApp(ctx, who.TenantID, a, h.SecretExpiry, who.Actor)
	if err != nil {
		h.fail(w, r, "set own app", err)
		return
	}
	if fe != nil {
		v, err := h.appView(r)
		if err != nil {
			h.fail(w, r, "read app registration", err)
			return
		}
		v.Form = templates.TenantAppForm{ClientID: a.ClientID, TenantID: a.TenantID, SecretExpires: a.SecretExpires, Errors: fe}
		h.render(w, r, http.StatusUnprocessableEntity, templates.TenantApp(h.frame(r, "app"), v))
		return
	}
	done := "secret"
	if a.ClientID != before.ClientID.String() || !strings.EqualFold(a.TenantID, before.AppTenantID.String()) {
		done = "app"
	}
	http.Redirect(w, r, who.Base+"/app/?done="+done, http.StatusSeeOther)
}

// appView is the page as the tenant's app registration stands, its form
// filled with the app's ids.
func (h *handler) appView(r *http.Request) (templates.TenantAppView, error) {
	now := h.Now()
	a, err := h.Views.AppRegistration(r.Context(), h.Viewer(r).TenantID, now)
	if err != nil || !a.Own {
		return templates.TenantAppView{}, err
	}
	v := templates.TenantAppView{Own: true, ClientID: a.ClientID.String(), TenantID: a.AppTenantID.String(),
		Stage: a.Stage, NeedsUpdate: a.NeedsUpdate,
		Form: templates.TenantAppForm{ClientID: a.ClientID.String(), TenantID: a.AppTenantID.String()}}
	if a.SecretExpiresAt != nil {
		v.SecretExpires = day(*a.SecretExpiresAt)
		v.ExpiresIn = expiresIn(*a.SecretExpiresAt, now)
		v.Expired = a.Expired(now)
		v.ExpirySource = map[string]string{"graph": "read from Microsoft", "admin": "as entered by an administrator"}[a.ExpirySource]
	}
	for _, f := range a.Forecast {
		v.Forecast = append(v.Forecast, templates.TenantSecretWarning{Days: f.Days, Date: day(f.At), Due: f.Due, Current: f.Days == a.Stage})
	}
	return v, nil
}

func day(t time.Time) string { return t.UTC().Format("2 January 2006") }

// expiresIn words how far off exp is: "in 45 days", "in 20 hours",
// "3 days ago".
func expiresIn(exp, now time.Time) string {
	d := exp.Sub(now)
	past := d < 0
	d = time.Duration(math.Abs(float64(d)))
	var s string
	switch {
	case d >= 48*time.Hour:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		s = fmt.Sprintf("%d hours", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}
