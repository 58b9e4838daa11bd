package tenantui

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/apikeys"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// createKey is POST /integration/keys: a key with the scopes ticked and
// an optional expiry, shown once on the page the browser is sent to. It
// asks for a recent sign-in first.
func (h *handler) createKey(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) || !h.RequireFresh(w, r) {
		return
	}
	r.ParseForm()
	form := templates.KeyForm{Name: strings.TrimSpace(r.PostFormValue("name")), Expires: strings.TrimSpace(r.PostFormValue("expiresAt")),
		Scopes: map[string]bool{}}
	n := apikeys.New{Name: form.Name, Scopes: r.PostForm["scopes"]}
	for _, s := range n.Scopes {
		form.Scopes[s] = true
	}
	var err error
	if form.Expires != "" {
		var day time.Time
		if day, err = time.Parse(time.DateOnly, form.Expires); err != nil {
			err = &apikeys.Invalid{Field: "expiresAt", Message: "Enter a date such as 2030-12-31, or none."}
		}
		n.ExpiresAt = &day
	}
	var key string
	if err == nil {
		who := h.Viewer(r)
		key, _, err = apikeys.Create(r.Context(), h.Store, who.TenantID, n, who.Actor)
	}
	var bad *apikeys.Invalid
	switch {
	case errors.As(err, &bad):
		form.Errors = map[string]string{bad.Field: bad.Message}
		h.integrationPage(w, r, http.StatusUnprocessableEntity, func(v *templates.IntegrationView) { v.NewKey = form })
	case err != nil:
		h.fail(w, r, "create API key", err)
	default:
		h.done(w, r, "/#api-keys", flash{Key: key,
			Notice: &templates.Notice{OK: true, Title: "API key created.", Detail: "Copy it now: it cannot be shown again."}})
	}
}

// revokeKey is POST /integration/keys/{id}/revoke: the key stops working
// at once, for good.
func (h *handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	who := h.Viewer(r)
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	var k store.APIKey
	if err == nil {
		k, err = apikeys.Revoke(r.Context(), h.Store, who.TenantID, id, who.Actor)
	} else {
		err = store.ErrAPIKeyNotFound
	}
	switch {
	case errors.Is(err, store.ErrAPIKeyNotFound):
		h.render(w, r, http.StatusNotFound, templates.TenantMessage(h.frame(r, "integration"), "API key not found", templates.Notice{
			Title: "This tenant has no such API key.", Detail: "Go back to Integration."}))
	case err != nil:
		h.fail(w, r, "revoke API key", err)
	default:
		h.done(w, r, "/#api-keys", flash{Notice: &templates.Notice{OK: true, Title: "API key " + k.Name + " revoked.",
			Detail: "Requests made with it are refused from now on."}})
	}
}
