package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/store"
)

// Webhook endpoints: list them with their backlog, re-enable one after a
// 410, replay its dead and superseded deliveries (where that keeps each
// user's order), and "retry now" (every pending delivery due at once).
// Every action is recorded in the audit log under the API key's id.

type endpoint struct {
	ID             uuid.UUID `json:"id" format:"uuid"`
	URL            string    `json:"url" format:"uri"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabledReason,omitempty"`
	Pending        int       `json:"pendingDeliveries"`
	Dead           int       `json:"deadDeliveries"`
	Superseded     int       `json:"supersededDeliveries"`
}

type endpointList struct{ Body list[endpoint] }

type replayed struct {
	Body struct {
		Replayed int64 `json:"replayed" doc:"Deliveries put back in the queue."`
		Kept     int64 `json:"kept" doc:"Deliveries kept back: a newer state of their user already reached the endpoint, and re-sending them would move that user backwards."`
	}
}

type retried struct {
	Body struct {
		Due int64 `json:"due" doc:"Pending deliveries now due."`
	}
}

func (d Deps) registerEndpoints(api huma.API) {
	huma.Register(api, operation("list-endpoints", http.MethodGet, "/endpoints", "List webhook endpoints", store.ScopeAdmin, "Endpoints"),
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
				b := backlogs[e.ID]
				out.Body.Data = append(out.Body.Data, endpoint{e.ID, e.URL, e.Enabled, e.Reason, b.Pending, b.Dead, b.Superseded})
			}
			return out, nil
		})

	op := operation("enable-endpoint", http.MethodPost, "/endpoints/{id}/enable", "Enable a disabled endpoint", store.ScopeAdmin, "Endpoints")
	op.DefaultStatus = http.StatusNoContent
	op.Errors = append(op.Errors, http.StatusNotFound)
	huma.Register(api, op, func(ctx context.Context, in *idParam) (*struct{}, error) {
		k := keyOf(ctx)
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		if err := deliver.Enable(ctx, d.Store, k.TenantID, id, actor(k)); err != nil {
			return nil, d.endpointFailed(ctx, "enable endpoint", err)
		}
		return nil, nil
	})

	op = operation("replay-endpoint", http.MethodPost, "/endpoints/{id}/replay", "Replay dead and superseded deliveries", store.ScopeAdmin, "Endpoints")
	op.DefaultStatus = http.StatusAccepted
	op.Errors = append(op.Errors, http.StatusNotFound, http.StatusConflict)
	huma.Register(api, op, func(ctx context.Context, in *idParam) (*replayed, error) {
		k := keyOf(ctx)
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		r, err := deliver.Replay(ctx, d.Store, k.TenantID, id, actor(k), store.ReplayFilter{})
		if err != nil {
			return nil, d.endpointFailed(ctx, "replay endpoint", err)
		}
		out := &replayed{}
		out.Body.Replayed, out.Body.Kept = r.Replayed, r.Kept
		return out, nil
	})

	op = operation("retry-endpoint", http.MethodPost, "/endpoints/{id}/retry", "Make every pending delivery due now", store.ScopeAdmin, "Endpoints")
	op.DefaultStatus = http.StatusAccepted
	op.Errors = append(op.Errors, http.StatusNotFound, http.StatusConflict)
	huma.Register(api, op, func(ctx context.Context, in *idParam) (*retried, error) {
		k := keyOf(ctx)
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		n, err := deliver.RetryNow(ctx, d.Store, k.TenantID, id, actor(k))
		if err != nil {
			return nil, d.endpointFailed(ctx, "retry endpoint", err)
		}
		out := &retried{}
		out.Body.Due = n
		return out, nil
	})
}

func errNoEndpoint() error { return huma.Error404NotFound("No endpoint of this tenant has that id.") }

// endpointFailed answers an endpoint action's error.
func (d Deps) endpointFailed(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, store.ErrEndpointNotFound):
		return errNoEndpoint()
	case errors.Is(err, deliver.ErrEndpointDisabled):
		return huma.Error409Conflict("The endpoint is disabled: enable it first.")
	default:
		return d.unavailable(ctx, op, err)
	}
}
