package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/resync"
	"presencebridge/internal/store"
)

// POST /sync re-reads presence from Graph, for one user or the whole
// tenant, through the engine's re-read queue: the answer is an operation
// (202), which the engine's next pass over the tenant runs and settles
// with what happened; GET /operations/{id} polls it. A platform asks
// because it suspects it lost state, so every user re-read is sent on as
// a new event with source "sync", changed or not.

type operationView struct {
	ID         uuid.UUID  `json:"id" format:"uuid"`
	Kind       string     `json:"kind" enum:"sync,presence_write" doc:"sync: a re-read from Graph, each user's current state sent again; presence_write: a presence write Graph throttled, carried out after its Retry-After."`
	Status     string     `json:"status" enum:"pending,running,succeeded,failed" doc:"pending: waiting for the engine's next pass over the tenant; running: in that pass; succeeded or failed: done."`
	UserID     *uuid.UUID `json:"userId,omitempty" format:"uuid" doc:"The one user a sync re-reads; absent: every monitored user."`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Error      string     `json:"error,omitempty" doc:"Why it failed. The engine keeps trying what failed in its later passes."`
}

func toOperation(o store.Operation) operationView {
	return operationView{ID: o.ID, Kind: o.Kind, Status: o.Status, UserID: o.UserID, CreatedAt: o.CreatedAt,
		StartedAt: o.StartedAt, FinishedAt: o.FinishedAt, Error: o.Error}
}

type syncInput struct {
	Body *struct {
		UserID string `json:"userId,omitempty" maxLength:"256" doc:"The user to re-read and send again, by object id or UPN; absent: every monitored user of the tenant."`
	} `required:"false"`
}

type operationAccepted struct {
	Location string `header:"Location" doc:"Where to poll the operation."`
	Body     operationView
}

type operationOutput struct{ Body operationView }

func (s resources) registerSync(api huma.API) {
	op := withStatus(operation("sync", http.MethodPost, "/sync", "Re-read presence from Microsoft Graph and send it again", store.ScopePresenceWrite, "Presence"),
		http.StatusNotFound)
	op.DefaultStatus = http.StatusAccepted
	op.Description = "Re-reads one user's presence, or every monitored user's, from Microsoft Graph in the engine's next pass over the tenant " +
		"(usually within a minute) and sends each re-read user's current state as an event, whether or not it changed since the last one: " +
		"a new event (new `eventId`, so a new `webhook-id`; the user's next `sequence`, so order per user holds) with `source` `sync`, " +
		"on the webhooks and the event stream alike. The debounce applies as to any change: for a user whose change leaving `talking` is held, " +
		"the event goes out when the window ends (none if talking resumes within it: `talking` is then still current). " +
		"The operation succeeds once these events are recorded. Poll the operation for the outcome. " +
		"404: no such user; 409: the user is not resolved yet, or the tenant is not active."
	register(api, op, func(ctx context.Context, in *syncInput) (*operationAccepted, error) {
		ref := ""
		if in.Body != nil {
			ref = in.Body.UserID
		}
		o, err := s.startSync(ctx, ref)
		if err != nil {
			return nil, err
		}
		return &operationAccepted{Location: "/api/v1/operations/" + o.ID.String(), Body: toOperation(o)}, nil
	})

	op = withStatus(operation("get-operation", http.MethodGet, "/operations/{id}", "Get an operation", store.ScopePresenceWrite, "Presence"),
		http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *idParam) (*operationOutput, error) {
		errNoOperation := huma.Error404NotFound("No operation of this tenant has that id.")
		id, ok := in.parse()
		if !ok {
			return nil, errNoOperation
		}
		o, err := s.Store.GetOperation(ctx, keyOf(ctx).TenantID, id)
		if errors.Is(err, store.ErrOperationNotFound) {
			return nil, errNoOperation
		}
		if err != nil {
			return nil, s.unavailable(ctx, "get operation", err)
		}
		return &operationOutput{Body: toOperation(o)}, nil
	})
}

// startSync records a sync through the service the tenant pages use too.
func (s resources) startSync(ctx context.Context, ref string) (store.Operation, error) {
	o, err := resync.Start(ctx, s.Store, keyOf(ctx).TenantID, ref, actor(keyOf(ctx)))
	var inactive *resync.InactiveError
	var unresolved *resync.UnresolvedError
	switch {
	case errors.Is(err, store.ErrUserNotFound):
		return o, errNoUser()
	case errors.As(err, &inactive), errors.As(err, &unresolved):
		return o, huma.Error409Conflict(err.Error())
	case err != nil:
		return o, s.unavailable(ctx, "sync", err)
	}
	return o, nil
}
