package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/store"
)

// Webhook endpoints: listed with their backlog, created (the signing
// secret shown once), read with an ETag, changed by JSON Merge Patch under
// If-Match, and deleted. What is done to one — enable, replay, retry now,
// rotate its secret, send a test event — is in endpoint_actions.go, its
// deliveries in endpoint_deliveries.go. Every change is recorded in the
// audit log under the API key's id, never with a secret, and with the
// URL's host only (a path or query may hold the receiver's token).

type endpoint struct {
	ID                      uuid.UUID  `json:"id" format:"uuid"`
	URL                     string     `json:"url" format:"uri"`
	Description             string     `json:"description"`
	Enabled                 bool       `json:"enabled"`
	DisabledReason          string     `json:"disabledReason,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty" doc:"While a rotation's overlap lasts: until when the previous signing secret signs beside the current one."`
	Pending                 int        `json:"pendingDeliveries"`
	Dead                    int        `json:"deadDeliveries"`
	Superseded              int        `json:"supersededDeliveries"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
}

func toEndpoint(e store.Endpoint, b store.Backlog) endpoint {
	return endpoint{ID: e.ID, URL: e.URL, Description: e.Description, Enabled: e.Enabled, DisabledReason: e.Reason,
		PreviousSecretExpiresAt: e.PrevSecretExpiresAt, Pending: b.Pending, Dead: b.Dead, Superseded: b.Superseded,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// endpointETag is the version of an endpoint: of its settings, and when
// they (or its secret) last changed — not of its backlog, which moves
// with every delivery.
func endpointETag(e store.Endpoint) string {
	return etag([]any{e.ID, e.URL, e.Description, e.Enabled, e.Reason, e.UpdatedAt.UnixMicro()})
}

// EndpointPath is an endpoint's id in the path (exported: huma sets
// parameters only through exported embedded structs).
type EndpointPath struct {
	ID string `path:"id" doc:"The endpoint's id."`
}

func (p EndpointPath) parse() (uuid.UUID, bool) { return idParam(p).parse() }

type endpointList struct{ Body list[endpoint] }

type endpointOutput struct {
	ETag string `header:"ETag" doc:"The endpoint's version: send it as If-Match to change exactly this version."`
	Body endpoint
}

// endpointSecret is an endpoint with a signing secret shown once.
type endpointSecret struct {
	Secret   string   `json:"secret" doc:"The signing secret (whsec_…), shown this once: store it now. Verify each webhook's webhook-signature with it (Standard Webhooks)."`
	Endpoint endpoint `json:"endpoint"`
}

type createdEndpoint struct {
	ETag     string `header:"ETag" doc:"The endpoint's version."`
	Location string `header:"Location" doc:"The endpoint's URL in this API."`
	Body     endpointSecret
}

type createEndpointInput struct {
	Body struct {
		URL         string `json:"url" minLength:"1" maxLength:"2000" doc:"Where events are POSTed: an https URL reachable from the internet."`
		Description string `json:"description,omitempty" maxLength:"500" doc:"What the endpoint is for."`
	}
}

type endpointPatchInput struct {
	EndpointPath
	Precondition
	RawBody []byte
}

type deleteEndpointInput struct {
	EndpointPath
	Precondition
}

func (d Deps) registerEndpoints(api huma.API) {
	register(api, operation("list-endpoints", http.MethodGet, "/endpoints", "List webhook endpoints", store.ScopeAdmin, "Endpoints"),
		func(ctx context.Context, _ *struct{}) (*endpointList, error) {
			tenant := keyOf(ctx).TenantID
			eps, err := d.Store.Endpoints(ctx, tenant)
			if err != nil {
				return nil, d.unavailable(ctx, "list endpoints", err)
			}
			backlogs, err := d.Store.Backlogs(ctx, tenant)
			if err != nil {
				return nil, d.unavailable(ctx, "endpoint backlogs", err)
			}
			out := &endpointList{Body: list[endpoint]{Data: make([]endpoint, 0, len(eps))}}
			for _, e := range eps {
				out.Body.Data = append(out.Body.Data, toEndpoint(e, backlogs[e.ID]))
			}
			return out, nil
		})

	op := operation("create-endpoint", http.MethodPost, "/endpoints", "Create a webhook endpoint", store.ScopeAdmin, "Endpoints")
	op.DefaultStatus = http.StatusCreated
	op.Description = "Events published from now on are delivered to it. The answer holds its signing secret, once."
	register(api, op, func(ctx context.Context, in *createEndpointInput) (*createdEndpoint, error) {
		k := keyOf(ctx)
		e, secret, err := deliver.AddEndpoint(ctx, d.Store, k.TenantID, deliver.Settings{URL: in.Body.URL, Description: in.Body.Description},
			actor(k), d.AllowLoopbackWebhooks)
		if err != nil {
			return nil, d.endpointFailed(ctx, "create endpoint", err)
		}
		return &createdEndpoint{ETag: endpointETag(e), Location: "/api/v1/endpoints/" + e.ID.String(),
			Body: endpointSecret{Secret: secret, Endpoint: toEndpoint(e, store.Backlog{})}}, nil
	})

	op = operation("get-endpoint", http.MethodGet, "/endpoints/{id}", "Get a webhook endpoint", store.ScopeAdmin, "Endpoints")
	op.Errors = append(op.Errors, http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *idParam) (*endpointOutput, error) {
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		out, err := readEndpoint(ctx, d.Store, keyOf(ctx).TenantID, id)
		if err != nil {
			return nil, d.endpointFailed(ctx, "get endpoint", err)
		}
		return out, nil
	})

	op = operation("patch-endpoint", http.MethodPatch, "/endpoints/{id}", "Change a webhook endpoint", store.ScopeAdmin, "Endpoints")
	op.Description = "A JSON Merge Patch (RFC 7396) of `url`, `description` and `enabled`, e.g. `{\"enabled\":false}`: the fields given " +
		"change, the others keep their values. Disabling ends its pending deliveries as dead (replay them once it is enabled again); " +
		"enabling sends what is published from then on."
	op.Errors = append(op.Errors, http.StatusNotFound, http.StatusPreconditionFailed)
	op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/merge-patch+json": {Schema: &huma.Schema{Type: "object", Description: "A merge patch of {\"url\", \"description\", \"enabled\"}."}},
	}}
	register(api, op, func(ctx context.Context, in *endpointPatchInput) (*endpointOutput, error) {
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		return d.patchEndpoint(ctx, id, in.Precondition, in.RawBody)
	})

	op = operation("delete-endpoint", http.MethodDelete, "/endpoints/{id}", "Delete a webhook endpoint", store.ScopeAdmin, "Endpoints")
	op.DefaultStatus = http.StatusNoContent
	op.Description = "The endpoint, its signing secrets and its deliveries are deleted: pending deliveries are never sent (one " +
		"already on its way may still arrive) and its delivery history is gone. The events stay on the event stream."
	op.Errors = append(op.Errors, http.StatusNotFound, http.StatusPreconditionFailed)
	register(api, op, func(ctx context.Context, in *deleteEndpointInput) (*struct{}, error) {
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		return nil, d.deleteEndpoint(ctx, id, in.Precondition)
	})

	d.registerEndpointActions(api)
	d.registerEndpointDeliveries(api)
}

// readEndpoint is an endpoint with its backlog and ETag, read with q (the
// pool, or the transaction that changed it).
func readEndpoint(ctx context.Context, q *store.Store, tenant, id uuid.UUID) (*endpointOutput, error) {
	e, err := q.GetEndpoint(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	backlogs, err := q.Backlogs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return &endpointOutput{ETag: endpointETag(e), Body: toEndpoint(e, backlogs[e.ID])}, nil
}

// endpointSettings are what a PATCH may change.
type endpointSettings struct {
	URL         string `json:"url"`
	Description string `json:"description"`
	Enabled     *bool  `json:"enabled"`
}

// withLockedEndpoint runs change on an endpoint locked in a transaction,
// once If-Match holds for it, so that nothing changes between the check
// and the change. A problem (4xx) change returns rolls it back and is
// answered as it is.
func (d Deps) withLockedEndpoint(ctx context.Context, id uuid.UUID, cond Precondition, op string, change func(tx store.Tx, cur store.Endpoint) error) error {
	err := d.Store.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.LockEndpoint(ctx, keyOf(ctx).TenantID, id)
		if err != nil {
			return err
		}
		if err := cond.check(endpointETag(cur)); err != nil {
			return err
		}
		return change(tx, cur)
	})
	if err != nil {
		return d.endpointFailed(ctx, op, err)
	}
	return nil
}

// patchEndpoint applies a merge patch to an endpoint's settings.
func (d Deps) patchEndpoint(ctx context.Context, id uuid.UUID, cond Precondition, patch []byte) (*endpointOutput, error) {
	var out *endpointOutput
	err := d.withLockedEndpoint(ctx, id, cond, "change endpoint", func(tx store.Tx, cur store.Endpoint) error {
		next, err := patched(cur, patch)
		if err != nil {
			return err
		}
		k := keyOf(ctx)
		settings := deliver.Settings{URL: next.URL, Description: next.Description, Enabled: *next.Enabled}
		if err := deliver.ChangeEndpoint(ctx, tx, cur, settings, actor(k), "disabled through the API", d.AllowLoopbackWebhooks); err != nil {
			return err
		}
		out, err = readEndpoint(ctx, tx.Store, cur.TenantID, id)
		return err
	})
	return out, err
}

// patched is cur's settings with patch applied, or the 400/422 that says
// why they cannot be.
func patched(cur store.Endpoint, patch []byte) (endpointSettings, error) {
	next, err := mergePatch(endpointSettings{URL: cur.URL, Description: cur.Description, Enabled: &cur.Enabled}, patch, "endpoint")
	if err != nil {
		return next, err
	}
	if next.Enabled == nil {
		return next, huma.Error422UnprocessableEntity("enabled must be true or false.",
			&huma.ErrorDetail{Location: "body.enabled", Message: "must be true or false", Value: nil})
	}
	return next, nil
}

// deleteEndpoint deletes an endpoint and records how many deliveries were
// still pending.
func (d Deps) deleteEndpoint(ctx context.Context, id uuid.UUID, cond Precondition) error {
	return d.withLockedEndpoint(ctx, id, cond, "delete endpoint", func(tx store.Tx, cur store.Endpoint) error {
		k := keyOf(ctx)
		pending, err := tx.DeleteEndpoint(ctx, k.TenantID, id)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, &k.TenantID, actor(k), "endpoint.deleted",
			map[string]any{"endpoint": id, "host": deliver.Host(cur.URL), "pendingDropped": pending})
	})
}

// invalid answers 422 naming the field that cannot be as given and why
// (deliver.Settings.Check, the tenant pages' rule too).
func invalid(e *deliver.Invalid) error {
	title := "The " + e.Field + " is not valid: " + e.Message
	if e.Field == "url" {
		title = "The url cannot receive events: " + e.Message
	}
	return huma.Error422UnprocessableEntity(title, &huma.ErrorDetail{Location: "body." + e.Field, Message: e.Message})
}

func errNoEndpoint() error { return huma.Error404NotFound("No endpoint of this tenant has that id.") }

// endpointFailed answers an endpoint action's error.
func (d Deps) endpointFailed(ctx context.Context, op string, err error) error {
	var problem huma.StatusError
	var bad *deliver.Invalid
	switch {
	case errors.As(err, &problem):
		return err
	case errors.As(err, &bad):
		return invalid(bad)
	case errors.Is(err, store.ErrEndpointNotFound):
		return errNoEndpoint()
	case errors.Is(err, deliver.ErrEndpointDisabled):
		return huma.Error409Conflict("The endpoint is disabled: enable it first.")
	default:
		return d.unavailable(ctx, op, err)
	}
}
