package api

import (
	"context"
	"encoding/binary"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
)

// An endpoint's deliveries, newest event first, a page at a time: what
// was sent, how often, and what the endpoint answered.

type delivery struct {
	ID             int64              `json:"id" doc:"The delivery's id: replay it with POST /endpoints/{id}/replay {\"deliveryIds\": […]}."`
	EventID        uuid.UUID          `json:"eventId" format:"uuid" doc:"The event's id, the webhook-id it is sent with."`
	User           presence.EventUser `json:"user"`
	Sequence       int64              `json:"sequence" doc:"The user's event sequence."`
	Status         string             `json:"status" enum:"pending,delivered,dead,superseded"`
	Attempts       int                `json:"attempts"`
	LastStatusCode *int               `json:"lastStatusCode,omitempty" doc:"The endpoint's HTTP status at the last attempt; absent before one, or when it did not answer."`
	LastError      string             `json:"lastError,omitempty" doc:"What went wrong at the last attempt: the network's error, or the status and the start (512 bytes) of the endpoint's answer."`
	CreatedAt      time.Time          `json:"createdAt"`
	NextAttemptAt  *time.Time         `json:"nextAttemptAt,omitempty" doc:"When a pending delivery is next tried."`
	DeliveredAt    *time.Time         `json:"deliveredAt,omitempty"`
}

type deliveriesInput struct {
	EndpointPath
	Status string `query:"status" enum:"pending,delivered,dead,superseded" doc:"Only deliveries in this status: pending (waiting or being retried), delivered, dead (the retries ran out, or the endpoint was disabled) or superseded (a newer state of the user replaced it while the endpoint failed)."`
	Cursor string `query:"cursor" maxLength:"40" doc:"The nextCursor of the page before; absent: the first page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"How many deliveries at most."`
}

type deliveryList struct{ Body list[delivery] }

func (d Deps) registerEndpointDeliveries(api huma.API) {
	op := operation("list-endpoint-deliveries", http.MethodGet, "/endpoints/{id}/deliveries", "List an endpoint's deliveries", store.ScopeAdmin, "Endpoints")
	op.Description = "Newest event first, with the attempts made and what the endpoint answered last."
	op.Errors = append(op.Errors, http.StatusNotFound, http.StatusUnprocessableEntity)
	register(api, op, func(ctx context.Context, in *deliveriesInput) (*deliveryList, error) {
		tenant := keyOf(ctx).TenantID
		id, ok := in.parse()
		if !ok {
			return nil, errNoEndpoint()
		}
		page := store.DeliveryPage{Status: in.Status, Limit: in.Limit + 1}
		if in.Cursor != "" {
			b, err := fromCursor(in.Cursor)
			if err != nil {
				return nil, err
			}
			if len(b) != 8 || int64(binary.BigEndian.Uint64(b)) <= 0 {
				return nil, badCursor(in.Cursor)
			}
			page.Before = int64(binary.BigEndian.Uint64(b))
		}
		if _, err := d.Store.GetEndpoint(ctx, tenant, id); err != nil {
			return nil, d.endpointFailed(ctx, "get endpoint", err)
		}
		ds, err := d.Store.EndpointDeliveries(ctx, tenant, id, page)
		if err != nil {
			return nil, d.unavailable(ctx, "endpoint deliveries", err)
		}
		out := &deliveryList{Body: list[delivery]{Data: make([]delivery, 0, min(len(ds), in.Limit))}}
		for i, x := range ds {
			if i == in.Limit {
				out.Body.NextCursor = cursor(binary.BigEndian.AppendUint64(nil, uint64(ds[i-1].Cursor)))
				break
			}
			out.Body.Data = append(out.Body.Data, delivery{ID: x.ID, EventID: x.EventID, User: x.User, Sequence: x.Sequence,
				Status: x.Status, Attempts: x.Attempts, LastStatusCode: x.LastStatus, LastError: x.LastError,
				CreatedAt: x.CreatedAt, NextAttemptAt: x.NextAttemptAt, DeliveredAt: x.DeliveredAt})
		}
		return out, nil
	})
}
