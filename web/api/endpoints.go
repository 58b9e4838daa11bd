package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Webhook endpoints: list them with their dead deliveries, re-enable one
// after a 410, and replay its dead letters (delivered again, in order).

type endpointJSON struct {
	ID             uuid.UUID `json:"id"`
	URL            string    `json:"url"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	Dead           int       `json:"deadDeliveries"`
}

func (d Deps) listEndpoints(w http.ResponseWriter, r *http.Request) {
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	eps, err := d.Store.Endpoints(r.Context(), d.Store.Pool(), tenant)
	if err != nil {
		problem(w, http.StatusInternalServerError, "Endpoints unavailable", "")
		return
	}
	out := make([]endpointJSON, 0, len(eps))
	for _, e := range eps {
		dead, err := d.Store.DeadDeliveries(r.Context(), d.Store.Pool(), tenant, e.ID)
		if err != nil {
			problem(w, http.StatusInternalServerError, "Endpoints unavailable", "")
			return
		}
		out = append(out, endpointJSON{e.ID, e.URL, e.Enabled, e.Reason, dead})
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func endpointID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		problem(w, http.StatusNotFound, "No such endpoint", "")
		return uuid.Nil, false
	}
	return id, true
}

func (d Deps) enableEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	found, err := d.Store.EnableEndpoint(r.Context(), d.Store.Pool(), tenant, id)
	switch {
	case err != nil:
		problem(w, http.StatusInternalServerError, "Endpoint not enabled", "")
	case !found:
		problem(w, http.StatusNotFound, "No such endpoint", "")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (d Deps) replayEndpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := endpointID(w, r)
	if !ok {
		return
	}
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	n, err := d.Store.ReplayDead(r.Context(), d.Store.Pool(), tenant, id)
	if err != nil {
		problem(w, http.StatusInternalServerError, "Replay failed", "")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": n})
}
