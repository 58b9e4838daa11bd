package api

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/web"
)

// Mapping rules: GET and PUT /mapping-rules, and POST /mapping-rules/preview
// to see what a rule set would emit for sample presences before saving it.

type rulesBody struct {
	Rules   presence.Rules    `json:"rules"`
	Preview []previewResult   `json:"preview,omitempty"`
	Samples []presence.Sample `json:"samples,omitempty"`
}

type previewResult struct {
	presence.Sample
	State presence.State `json:"state"`
}

func preview(r presence.Rules, samples []presence.Sample) []previewResult {
	if len(samples) == 0 {
		samples = presence.PreviewSamples
	}
	states := r.Preview(samples)
	out := make([]previewResult, len(samples))
	for i, s := range samples {
		out[i] = previewResult{s, states[i]}
	}
	return out
}

func (d Deps) rules(r *http.Request) (presence.Rules, error) {
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	return d.Store.TenantRules(r.Context(), tenant)
}

func (d Deps) getRules(w http.ResponseWriter, r *http.Request) {
	rules, err := d.rules(r)
	if err != nil {
		web.Problem(w, http.StatusInternalServerError, "Rules unavailable", "")
		return
	}
	writeJSON(w, http.StatusOK, rulesBody{Rules: rules, Preview: preview(rules, nil)})
}

// readRules decodes and validates a rule set; problems are answered 400/422.
func readRules(w http.ResponseWriter, r *http.Request) (rulesBody, bool) {
	var body rulesBody
	body.Rules = presence.DefaultRules() // fields left out keep their defaults
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		web.Problem(w, http.StatusBadRequest, "Malformed rules", err.Error())
		return body, false
	}
	if err := body.Rules.Validate(); err != nil {
		web.Problem(w, http.StatusUnprocessableEntity, "Invalid rules", err.Error())
		return body, false
	}
	return body, true
}

func (d Deps) putRules(w http.ResponseWriter, r *http.Request) {
	body, ok := readRules(w, r)
	if !ok {
		return
	}
	raw, _ := json.Marshal(body.Rules)
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	err := d.Store.InTx(r.Context(), func(tx store.Tx) error {
		if err := tx.PutMappingRules(r.Context(), tenant, raw); err != nil {
			return err
		}
		return tx.Audit(r.Context(), &tenant, actor(r), "mapping_rules.updated", map[string]any{"rules": body.Rules})
	})
	if err != nil {
		web.Problem(w, http.StatusInternalServerError, "Rules not saved", "")
		return
	}
	writeJSON(w, http.StatusOK, rulesBody{Rules: body.Rules, Preview: preview(body.Rules, nil)})
}

func (d Deps) previewRules(w http.ResponseWriter, r *http.Request) {
	body, ok := readRules(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, rulesBody{Rules: body.Rules, Preview: preview(body.Rules, body.Samples)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
