package tenantui

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/portaladmin"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// adminRoutes is Admins: the tenant's portal admins, added by UPN (looked
// up in the tenant's directory by internal/portaladmin) and removed, never
// the last. An admin removing themselves confirms first and is signed out
// by the surface on their next request (the portal checks each request).
func (h *handler) adminRoutes(r chi.Router) {
	r.Get("/", h.showAdmins)
	r.Post("/", h.addAdmin)
	r.Post("/{objectID}/remove", h.removeAdmin)
}

func (h *handler) showAdmins(w http.ResponseWriter, r *http.Request) {
	var done *templates.Notice
	switch r.URL.Query().Get("done") {
	case "added":
		done = &templates.Notice{OK: true, Title: "The administrator was added.", Detail: "They can sign in with Microsoft now."}
	case "removed":
		done = &templates.Notice{OK: true, Title: "The administrator was removed.", Detail: "They lost access at once."}
	}
	h.renderAdmins(w, r, http.StatusOK, templates.TenantAdminsView{Done: done})
}

// addAdmin is POST /admins/: upn looked up in the tenant's directory and
// added; a refusal re-renders the form with its reason.
func (h *handler) addAdmin(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	vw := h.Viewer(r)
	upn := r.PostFormValue("upn")
	_, err := h.Admins.Add(r.Context(), vw.TenantID, upn, vw.Actor)
	var refused *portaladmin.Refusal
	switch {
	case errors.As(err, &refused):
		h.renderAdmins(w, r, http.StatusUnprocessableEntity, templates.TenantAdminsView{
			Form: templates.TenantAdminForm{UPN: upn, Error: refused.Reason}})
		return
	case errors.Is(err, portaladmin.ErrDirectoryUnavailable):
		h.Logger.WarnContext(r.Context(), "tenant pages: add portal admin", "tenant", vw.TenantID, "err", err)
		h.renderAdmins(w, r, http.StatusServiceUnavailable, templates.TenantAdminsView{
			Form: templates.TenantAdminForm{UPN: upn, Error: "Microsoft Graph did not answer the lookup, so nothing was added. " +
				"Try again in a minute; if it keeps happening, check on Home that your organization's consent is still granted."}})
		return
	case err != nil:
		h.fail(w, r, "add portal admin", err)
		return
	}
	http.Redirect(w, r, vw.Base+"/admins/?done=added", http.StatusSeeOther)
}

// removeAdmin is POST /admins/{objectID}/remove. Removing oneself shows a
// confirmation first (confirm=yes goes ahead), then sends the viewer to
// Home, where the surface finds them no longer an admin and signs them out.
func (h *handler) removeAdmin(w http.ResponseWriter, r *http.Request) {
	if h.readOnly(w, r) {
		return
	}
	ctx := r.Context()
	vw := h.Viewer(r)
	oid, err := uuid.Parse(chi.URLParam(r, "objectID"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	self := vw.Actor == "portal:"+oid.String()
	if self && r.PostFormValue("confirm") != "yes" {
		a, err := h.Store.PortalAdmin(ctx, vw.TenantID, oid)
		if err != nil {
			h.fail(w, r, "read portal admin", err)
			return
		}
		h.render(w, r, http.StatusOK, templates.TenantAdminRemoveSelf(h.frame(r, "admins"), adminView(a, true)))
		return
	}
	_, err = h.Admins.Remove(ctx, vw.TenantID, oid, vw.Actor)
	var refused *portaladmin.Refusal
	switch {
	case errors.As(err, &refused):
		h.renderAdmins(w, r, http.StatusConflict, templates.TenantAdminsView{Error: &templates.Notice{Title: refused.Reason}})
		return
	case err != nil:
		h.fail(w, r, "remove portal admin", err)
		return
	}
	if self {
		http.Redirect(w, r, vw.Base+"/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, vw.Base+"/admins/?done=removed", http.StatusSeeOther)
}

// renderAdmins renders the page with the tenant's admins as they are now.
func (h *handler) renderAdmins(w http.ResponseWriter, r *http.Request, status int, v templates.TenantAdminsView) {
	vw := h.Viewer(r)
	admins, err := h.Admins.List(r.Context(), vw.TenantID)
	if err != nil {
		h.fail(w, r, "list portal admins", err)
		return
	}
	for _, a := range admins {
		v.Admins = append(v.Admins, adminView(a, vw.Actor == "portal:"+a.ObjectID.String()))
	}
	h.render(w, r, status, templates.TenantAdmins(h.frame(r, "admins"), v))
}

func adminView(a store.PortalAdmin, you bool) templates.TenantAdmin {
	return templates.TenantAdmin{ObjectID: a.ObjectID.String(), UPN: a.UPN, DisplayName: a.DisplayName, AddedAt: day(a.AddedAt), You: you}
}
