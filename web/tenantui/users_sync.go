package tenantui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/resync"
	"presencebridge/internal/store"
	"presencebridge/templates"
)

// Re-sync: the API's POST /sync, for one user or every monitored user,
// through the same service (internal/resync); the page after shows the
// operation as the engine runs it.

func (h *handler) syncAll(w http.ResponseWriter, r *http.Request) { h.startSync(w, r, "") }

func (h *handler) syncUser(w http.ResponseWriter, r *http.Request) {
	h.startSync(w, r, chi.URLParam(r, "ref"))
}

func (h *handler) startSync(w http.ResponseWriter, r *http.Request, ref string) {
	if h.readOnly(w, r) {
		return
	}
	vw := h.Viewer(r)
	o, err := resync.Start(r.Context(), h.Store, vw.TenantID, ref, vw.Actor)
	var inactive *resync.InactiveError
	var unresolved *resync.UnresolvedError
	switch {
	case errors.Is(err, store.ErrUserNotFound):
		h.render(w, r, http.StatusNotFound, templates.TenantMessage(h.frame(r, "users"), "No such user", templates.Notice{
			Title: ref + " is not on the roster."}))
	case errors.As(err, &inactive), errors.As(err, &unresolved):
		h.render(w, r, http.StatusConflict, templates.TenantMessage(h.frame(r, "users"), "Nothing to re-sync", templates.Notice{
			Title: err.Error()}))
	case err != nil:
		h.fail(w, r, "start sync", err)
	default:
		http.Redirect(w, r, vw.Base+"/users/sync/"+o.ID.String(), http.StatusSeeOther)
	}
}

func (h *handler) syncOperation(w http.ResponseWriter, r *http.Request) {
	vw := h.Viewer(r)
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	var o store.Operation
	if err == nil {
		o, err = h.Store.GetOperation(r.Context(), vw.TenantID, id)
	}
	if err != nil && !errors.Is(err, store.ErrOperationNotFound) {
		h.fail(w, r, "read sync", err)
		return
	}
	if err != nil || o.Kind != store.OperationSync {
		h.render(w, r, http.StatusNotFound, templates.TenantMessage(h.frame(r, "users"), "No such re-sync", templates.Notice{
			Title: "This tenant has no re-sync with that id."}))
		return
	}
	v := templates.TenantOperationView{Base: vw.Base, What: "every monitored user", Status: o.Status, Badge: operationBadge[o.Status],
		Created: when(o.CreatedAt), Error: o.Error, Self: vw.Base + "/users/sync/" + o.ID.String(), Back: vw.Base + "/users/"}
	if o.UserID != nil {
		v.What = o.UserID.String()
		if u, err := h.Store.FindDirectoryUser(r.Context(), vw.TenantID, o.UserID.String()); err == nil {
			v.What, v.Back = u.UPN, vw.Base+"/users/u/"+url.PathEscape(u.UPN)
		}
	}
	if o.StartedAt != nil {
		v.Started = when(*o.StartedAt)
	}
	if o.FinishedAt != nil {
		v.Finished = when(*o.FinishedAt)
	}
	h.render(w, r, http.StatusOK, templates.TenantOperation(h.frame(r, "users"), v))
}

var operationBadge = map[string]string{
	store.OperationPending:   "pending",
	store.OperationRunning:   "pending",
	store.OperationSucceeded: "ok",
	store.OperationFailed:    "bad",
}
