package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/store"
	"presencebridge/web"
)

// Webhook endpoints: list them with their backlog, re-enable one after a
// 410, replay its dead and superseded deliveries (where that keeps each
// user's order), and "retry now" (every pending delivery due at once).
// Every action is recorded in the audit log under the API key's id.

type endpointJSON struct {
	ID             uuid.UUID `json:"id"`
	URL            string    `json:"url"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	Pending        int       `json:"pendingDeliveries"`
	Dead           int       `json:"deadDeliveries"`
	Superseded     int       `json:"supersededDeliveries"`
}

func (d Deps) listEndpoints(w http.ResponseWriter, r *http.Request) {
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	eps, err := d.Store.Endpoints(r.Context(), tenant)
	if err != nil {
		web.Problem(w, http.StatusInternalServerError, "Endpoints unavailable", "")
		return
	}
	backlogs, err := d.Store.Backlogs(r.Context(), tenant)
	if err != nil {
		web.Problem(w, http.StatusInternalServerError, "Endpoints unavailable", "")
		return
	}
	out := make([]endpointJSON, 0, len(eps))
	for _, e := range eps {
		b := backlogs[e.ID]
		out = append(out, endpointJSON{e.ID, e.URL, e.Enabled, e.Reason, b.Pending, b.Dead, b.Superseded})
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func endpointID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		web.Problem(w, http.StatusNotFound, "No such endpoint", "")
		return uuid.Nil, false
	}
	return id, true
}

// actor names the API key that called, for the audit log.
func actor(r *http.Request) string {
	return "apikey:" + r.Context().Value(apiKeyKey{}).(uuid.UUID).String()
}

// actionFailed answers an endpoint action's error.
func actionFailed(w http.ResponseWriter, err error, title string) {
	switch {
	case errors.Is(err, store.ErrEndpointNotFound):
		web.Problem(w, http.StatusNotFound, "No such endpoint", "")
	case errors.Is(err, deliver.ErrEndpointDisabled):
		web.Problem(w, http.StatusConflict, title, "The endpoint is disabled: enable it first.")
	default:
		web.Problem(w, http.StatusInternalServerError, title, "")
	}
}

func (d Deps) enableEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	if err := deliver.Enable(r.Context(), d.Store, tenant, id, actor(r)); err != nil {
		actionFailed(w, err, "Endpoint not enabled")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// replayEndpoint answers how many deliveries went back in the queue and
// how many were kept because a newer state of their user already reached
// the endpoint (re-sending them would move that user backwards).
func (d Deps) replayEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	n, kept, err := deliver.Replay(r.Context(), d.Store, tenant, id, actor(r))
	if err != nil {
		actionFailed(w, err, "Replay failed")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": n, "kept": kept})
}

// retryEndpoint makes every pending delivery of the endpoint due at once
// and answers how many are due.
func (d Deps) retryEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	n, err := deliver.RetryNow(r.Context(), d.Store, tenant, id, actor(r))
	if err != nil {
		actionFailed(w, err, "Retry failed")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"due": n})
}
