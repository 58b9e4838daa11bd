package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/deliver"
	"presencebridge/internal/store"
)

// What is done to an endpoint: enable it after a 410, replay its dead and
// superseded deliveries (where that keeps each user's order), "retry now"
// (every pending delivery due at once), rotate its signing secret with an
// overlap, and send it a test event.

type replayInput struct {
	EndpointPath
	Body *struct {
		DeliveryIDs []int64    `json:"deliveryIds,omitempty" minItems:"1" maxItems:"1000" uniqueItems:"true" doc:"Replay only these deliveries (the ids of GET /endpoints/{id}/deliveries)."`
		Since       *time.Time `json:"since,omitempty" doc:"Replay only deliveries created at or after this time."`
	}
}

type replayed struct {
	Body struct {
		Replayed int64 `json:"replayed" doc:"Deliveries put back in the queue."`
		Kept     int64 `json:"kept" doc:"Deliveries kept back: a newer state of their user already reached the endpoint, and re-sending them would move that user backwards."`
		Ignored  int64 `json:"ignored" doc:"Of the deliveryIds given, those that are no dead or superseded delivery of this endpoint (unknown, pending or delivered)."`
	}
}

type retried struct {
	Body struct {
		Due int64 `json:"due" doc:"Pending deliveries now due."`
	}
}

type rotateInput struct {
	EndpointPath
	Body *struct {
		OverlapSeconds *int `json:"overlapSeconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the previous secret keeps signing beside the new one (default 86400, a day; at most a week; 0: it stops at once)."`
	}
}

type rotatedSecret struct {
	ETag string `header:"ETag" doc:"The endpoint's version."`
	Body endpointSecret
}

type testedEndpoint struct {
	Body struct {
		EventID    uuid.UUID `json:"eventId" format:"uuid" doc:"The test event's id (its webhook-id)."`
		Delivered  bool      `json:"delivered" doc:"Whether the endpoint answered 2xx."`
		StatusCode int       `json:"statusCode,omitempty" doc:"The endpoint's HTTP status; absent when it did not answer."`
		LatencyMs  int64     `json:"latencyMs" doc:"How long the request took, in milliseconds."`
		Error      string    `json:"error,omitempty" doc:"Why the endpoint did not take the event: the network's error, or its status and the start of its answer."`
	}
}

func (d Deps) registerEndpointActions(api huma.API) {
	op := operation("enable-endpoint", http.MethodPost, "/endpoints/{id}/enable", "Enable a disabled endpoint", store.ScopeAdmin, "Endpoints")
	op.DefaultStatus = http.StatusNoContent
	op.Errors = append(op.Errors, http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *idParam) (*struct{}, error) {
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
	op.Description = "Without a body every dead and superseded delivery of the endpoint is looked at; with one, those given by id, " +
		"those created since a time, or both. Each user's order holds: a delivery older than one of its user's the endpoint " +
		"already received is kept back."
	op.DefaultStatus = http.StatusAccepted
	op.Errors = append(op.Errors, http.StatusNotFound, http.StatusConflict)
	register(api, op, func(ctx context.Context, in *replayInput) (*replayed, error) {
		k := keyOf(ctx)
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		var f store.ReplayFilter
		if in.Body != nil {
			f = store.ReplayFilter{IDs: in.Body.DeliveryIDs, Since: in.Body.Since}
		}
		r, err := deliver.Replay(ctx, d.Store, k.TenantID, id, actor(k), f)
		if err != nil {
			return nil, d.endpointFailed(ctx, "replay endpoint", err)
		}
		out := &replayed{}
		out.Body.Replayed, out.Body.Kept, out.Body.Ignored = r.Replayed, r.Kept, r.Ignored
		return out, nil
	})

	op = operation("retry-endpoint", http.MethodPost, "/endpoints/{id}/retry", "Make every pending delivery due now", store.ScopeAdmin, "Endpoints")
	op.Description = "Every pending delivery of the endpoint is due at once — or, while a Retry-After the endpoint " +
		"answered (429 or 503) lasts, when it ends: nothing is sent to the endpoint before. The answer says how many."
	op.DefaultStatus = http.StatusAccepted
	op.Errors = append(op.Errors, http.StatusNotFound, http.StatusConflict)
	register(api, op, func(ctx context.Context, in *idParam) (*retried, error) {
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

	op = operation("rotate-endpoint-secret", http.MethodPost, "/endpoints/{id}/rotate-secret", "Rotate an endpoint's signing secret", store.ScopeAdmin, "Endpoints")
	op.Description = "A new signing secret becomes current; the one it replaces keeps signing beside it for the overlap, so " +
		"each webhook carries two signatures until then and a receiver can switch secrets without refusing one. A secret " +
		"still in an earlier rotation's overlap stops at once. The answer holds the new secret, once."
	op.Errors = append(op.Errors, http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *rotateInput) (*rotatedSecret, error) {
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		overlap := deliver.DefaultOverlap
		if in.Body != nil && in.Body.OverlapSeconds != nil {
			overlap = time.Duration(*in.Body.OverlapSeconds) * time.Second
		}
		return d.rotateSecret(ctx, id, overlap)
	})

	tester := deliver.New(d.Store, deliver.Options{AllowPrivate: d.AllowLoopbackWebhooks, Timeout: 10 * time.Second, Logger: d.Logger})
	op = operation("test-endpoint", http.MethodPost, "/endpoints/{id}/test", "Send a test event", store.ScopeAdmin, "Endpoints")
	op.Description = "Sends a `presence.test` event to the endpoint now, signed like every webhook (Standard Webhooks headers), " +
		"whether or not it is enabled, and answers how the endpoint took it. It is no presence event: it is not stored, " +
		"retried or on the event stream."
	op.Errors = append(op.Errors, http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *idParam) (*testedEndpoint, error) {
		k := keyOf(ctx)
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		r, err := tester.SendTest(ctx, k.TenantID, id)
		if err != nil {
			return nil, d.endpointFailed(ctx, "test endpoint", err)
		}
		if err := d.Store.Audit(ctx, &k.TenantID, actor(k), "endpoint.tested",
			map[string]any{"endpoint": id, "event": r.EventID, "status": r.Status}); err != nil {
			return nil, d.unavailable(ctx, "test endpoint", err)
		}
		out := &testedEndpoint{}
		out.Body.EventID, out.Body.Delivered, out.Body.StatusCode = r.EventID, r.Error == "", r.Status
		out.Body.LatencyMs, out.Body.Error = r.Latency.Milliseconds(), r.Error
		return out, nil
	})
}

// rotateSecret gives an endpoint a new signing secret, the old one signing
// beside it for overlap (deliver.RotateSecret).
func (d Deps) rotateSecret(ctx context.Context, id uuid.UUID, overlap time.Duration) (*rotatedSecret, error) {
	k := keyOf(ctx)
	secret, _, err := deliver.RotateSecret(ctx, d.Store, k.TenantID, id, overlap, actor(k))
	if err != nil {
		return nil, d.endpointFailed(ctx, "rotate endpoint secret", err)
	}
	out, err := readEndpoint(ctx, d.Store, k.TenantID, id)
	if err != nil {
		return nil, d.endpointFailed(ctx, "rotate endpoint secret", err)
	}
	return &rotatedSecret{ETag: out.ETag, Body: endpointSecret{Secret: secret, Endpoint: out.Body}}, nil
}
