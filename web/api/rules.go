package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"presencebridge/internal/mappingrules"
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

type rulesOutput struct {
	ETag string `header:"ETag" doc:"The rule set's version: send it as If-Match to change exactly this version."`
	Body rulesBody
}

func rulesAnswer(r presence.Rules) *rulesOutput {
	return &rulesOutput{ETag: rulesETag(r), Body: rulesBody{Rules: r, Preview: preview(r, nil)}}
}

// rulesETag is a strong validator of a rule set.
func rulesETag(r presence.Rules) string { return etag(r) }

type rulesInput struct {
	Precondition
	Body struct {
		Rules presence.Rules `json:"rules"`
	}
}

// rulesDoc is the rule set as PUT and PATCH take it.
type rulesDoc struct {
	Rules presence.Rules `json:"rules"`
}

type rulesPatchInput struct {
	Precondition
	RawBody []byte
}

type previewInput struct {
	Body struct {
		Rules   presence.Rules    `json:"rules"`
		Samples []presence.Sample `json:"samples,omitempty" doc:"Presences to map; absent: the ones Teams commonly shows."`
	}
}

func (d Deps) registerRules(api huma.API) {
	register(api, operation("get-mapping-rules", http.MethodGet, "/mapping-rules", "Get the mapping rules", store.ScopeAdmin, "Mapping rules"),
		func(ctx context.Context, _ *struct{}) (*rulesOutput, error) {
			rules, err := d.Store.TenantRules(ctx, keyOf(ctx).TenantID)
			if err != nil {
				return nil, d.unavailable(ctx, "get mapping rules", err)
			}
			return rulesAnswer(rules), nil
		})

	op := operation("put-mapping-rules", http.MethodPut, "/mapping-rules", "Replace the mapping rules", store.ScopeAdmin, "Mapping rules")
	op.Description = "The body holds the whole rule set; every field is required. Changes apply from the next presence change."
	op.Errors = append(op.Errors, http.StatusPreconditionFailed)
	register(api, op, func(ctx context.Context, in *rulesInput) (*rulesOutput, error) {
		return d.changeRules(ctx, in.Precondition, func(presence.Rules) (presence.Rules, error) { return in.Body.Rules, nil })
	})

	op = operation("patch-mapping-rules", http.MethodPatch, "/mapping-rules", "Change some mapping rules", store.ScopeAdmin, "Mapping rules")
	op.Description = "A JSON Merge Patch (RFC 7396) of the rule set, e.g. `{\"rules\":{\"talkingInMeeting\":false}}`: the fields given change, the others keep their values."
	op.Errors = append(op.Errors, http.StatusPreconditionFailed)
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/merge-patch+json": {Schema: &huma.Schema{Type: "object", Description: "A merge patch of {\"rules\": {…}}."}},
	}}
	register(api, op, func(ctx context.Context, in *rulesPatchInput) (*rulesOutput, error) {
		return d.changeRules(ctx, in.Precondition, func(current presence.Rules) (presence.Rules, error) {
			out, err := mergePatch(rulesDoc{current}, in.RawBody, "rule set")
			return out.Rules, err
		})
	})

	op = operation("preview-mapping-rules", http.MethodPost, "/mapping-rules/preview", "Preview a rule set", store.ScopeAdmin, "Mapping rules")
	op.Description = "What a rule set would emit for sample presences, without saving it."
	register(api, op, func(ctx context.Context, in *previewInput) (*rulesOutput, error) {
		if err := in.Body.Rules.Validate(); err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		out := rulesAnswer(in.Body.Rules)
		out.Body.Preview = preview(in.Body.Rules, in.Body.Samples)
		return out, nil
	})
}

// changeRules replaces the tenant's rules with change(current), once
// If-Match holds for the current ones (mappingrules.Change: validated,
// locked, audited with the key).
func (d Deps) changeRules(ctx context.Context, cond Precondition, change func(presence.Rules) (presence.Rules, error)) (*rulesOutput, error) {
	k := keyOf(ctx)
	rules, err := mappingrules.Change(ctx, d.Store, k.TenantID, actor(k), func(current presence.Rules) (presence.Rules, error) {
		if err := cond.check(rulesETag(current)); err != nil {
			return current, err
		}
		return change(current)
	})
	var problem huma.StatusError
	var bad *mappingrules.Invalid
	switch {
	case errors.As(err, &bad):
		return nil, huma.Error422UnprocessableEntity(bad.Error())
	case errors.As(err, &problem):
		return nil, err
	case err != nil:
		return nil, d.unavailable(ctx, "change mapping rules", err)
	}
	return rulesAnswer(rules), nil
}
