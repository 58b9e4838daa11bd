package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

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
	huma.Register(api, op, func(ctx context.Context, in *syncInput) (*operationAccepted, error) {
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
	huma.Register(api, op, func(ctx context.Context, in *idParam) (*operationOutput, error) {
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

// startSync checks what a sync names and records it with its audit entry.
func (s resources) startSync(ctx context.Context, ref string) (store.Operation, error) {
	k := keyOf(ctx)
	t, err := s.Store.GetTenant(ctx, k.TenantID)
	if err != nil {
		return store.Operation{}, s.unavailable(ctx, "sync: get tenant", err)
	}
	if t.Status != store.TenantActive {
		return store.Operation{}, huma.Error409Conflict("Presence is not monitored for this tenant yet (it is " + t.Status + "): there is nothing to re-read.")
	}
	var user *uuid.UUID
	if ref != "" {
		u, err := s.Store.FindDirectoryUser(ctx, k.TenantID, ref)
		switch {
		case errors.Is(err, store.ErrUserNotFound):
			return store.Operation{}, errNoUser()
		case err != nil:
			return store.Operation{}, s.unavailable(ctx, "sync: find user", err)
		case u.ObjectID == nil || u.Status != store.UserResolved:
			return store.Operation{}, huma.Error409Conflict("The user is " + u.Status + ", not resolved to a Microsoft Entra account: there is no presence to re-read.")
		}
		user = u.ObjectID
	}
	var o store.Operation
	err = s.Store.InTx(ctx, func(tx store.Tx) (err error) {
		if o, err = tx.CreateSyncOperation(ctx, k.TenantID, user, actor(k)); err != nil {
			return err
		}
		return tx.Audit(ctx, &k.TenantID, actor(k), "sync.requested", map[string]any{"operation": o.ID, "userId": user})
	})
	if err != nil {
		return store.Operation{}, s.unavailable(ctx, "sync", err)
	}
	return o, nil
}
