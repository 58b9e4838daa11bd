package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// Mapping rules: GET and PUT /mapping-rules, and POST /mapping-rules/preview
// to see what a rule set would emit for sample presences before saving it.

type rulesBody struct {
	Rules   presence.Rules  `json:"rules"`
	Preview []previewResult `json:"preview" doc:"What the rules emit for common (or the given) presences."`
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

type rulesOutput struct{ Body rulesBody }

type rulesInput struct {
	Body struct {
		Rules presence.Rules `json:"rules"`
	}
}

type previewInput struct {
	Body struct {
		Rules   presence.Rules    `json:"rules"`
		Samples []presence.Sample `json:"samples,omitempty" doc:"Presences to map; absent: the ones Teams commonly shows."`
	}
}

func (d Deps) registerRules(api huma.API) {
	huma.Register(api, operation("get-mapping-rules", http.MethodGet, "/mapping-rules", "Get the mapping rules", store.ScopeAdmin, "Mapping rules"),
		func(ctx context.Context, _ *struct{}) (*rulesOutput, error) {
			rules, err := d.Store.TenantRules(ctx, keyOf(ctx).TenantID)
			if err != nil {
				return nil, d.unavailable(ctx, "get mapping rules", err)
			}
			return &rulesOutput{Body: rulesBody{Rules: rules, Preview: preview(rules, nil)}}, nil
		})

	op := operation("put-mapping-rules", http.MethodPut, "/mapping-rules", "Replace the mapping rules", store.ScopeAdmin, "Mapping rules")
	op.Description = "The body holds the whole rule set; every field is required. Changes apply from the next presence change."
	huma.Register(api, op, func(ctx context.Context, in *rulesInput) (*rulesOutput, error) {
		rules := in.Body.Rules
		if err := rules.Validate(); err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		k := keyOf(ctx)
		raw, _ := json.Marshal(rules)
		err := d.Store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.PutMappingRules(ctx, k.TenantID, raw); err != nil {
				return err
			}
			return tx.Audit(ctx, &k.TenantID, actor(k), "mapping_rules.updated", map[string]any{"rules": rules})
		})
		if err != nil {
			return nil, d.unavailable(ctx, "put mapping rules", err)
		}
		return &rulesOutput{Body: rulesBody{Rules: rules, Preview: preview(rules, nil)}}, nil
	})

	op = operation("preview-mapping-rules", http.MethodPost, "/mapping-rules/preview", "Preview a rule set", store.ScopeAdmin, "Mapping rules")
	op.Description = "What a rule set would emit for sample presences, without saving it."
	huma.Register(api, op, func(ctx context.Context, in *previewInput) (*rulesOutput, error) {
		if err := in.Body.Rules.Validate(); err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		return &rulesOutput{Body: rulesBody{Rules: in.Body.Rules, Preview: preview(in.Body.Rules, in.Body.Samples)}}, nil
	})
}
