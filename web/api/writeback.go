package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/jobs"
	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/internal/writeback"
)

// Presence written into Teams (scope presence:write): a user's presence
// session (PUT/DELETE /users/{id}/presence → Graph setPresence and
// clearPresence, with our app's id as the session), their preferred
// presence and their status message, through internal/writeback. The
// change this makes in Teams is not sent back to the platform as if it
// came from Teams (an echo). When Graph throttles beyond what the request's
// deadline allows, the answer is 202 with an operation, carried out by a job
// once Graph's Retry-After has passed.

// writeDeadline bounds how long a write waits out Graph's throttling
// before it is answered 202 and left to a job: a platform setting "in a
// call" wants an answer while the call is still starting.
const writeDeadline = 10 * time.Second

// Writes are what the API needs to write presence into Teams.
type Writes struct {
	Writer jobs.PresenceWriter // *writeback.Writer
	// Enqueue schedules a throttled write (a River insert).
	Enqueue func(ctx context.Context, args jobs.PresenceWriteArgs, at time.Time) error
}

// (The path id is declared here, not by embedding userRef: huma sets no
// field of an unexported embedded struct.)
type presenceSetInput struct {
	ID   string `path:"id" doc:"The user's object id, or the UPN as entered."`
	Body struct {
		Availability     string `json:"availability" doc:"As Graph spells it: Available, Busy, DoNotDisturb, BeRightBack, Away (only the pairs Graph accepts: see the 422)."`
		Activity         string `json:"activity" doc:"E.g. InACall, InAConferenceCall, Available, Away, Presenting."`
		ExpiresInSeconds int    `json:"expiresInSeconds,omitempty" minimum:"300" maximum:"14400" doc:"How long Teams shows it unless set again or cleared (5 minutes to 4 hours; default 1 hour for a session, Graph's default for preferred presence)."`
	}
}

// request is the write of kind the body asks for.
func (in *presenceSetInput) request(kind string) writeback.Request {
	return writeback.Request{Kind: kind, Availability: in.Body.Availability, Activity: in.Body.Activity,
		Expires: time.Duration(in.Body.ExpiresInSeconds) * time.Second}
}

type statusMessageInput struct {
	ID   string `path:"id" doc:"The user's object id, or the UPN as entered."`
	Body struct {
		Message   string     `json:"message" maxLength:"280" doc:"The status message; empty clears it."`
		ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"When it ends; absent: never."`
	}
}

// written is what Teams shows after a write.
type written struct {
	Availability string     `json:"availability,omitempty"`
	Activity     string     `json:"activity,omitempty"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty" doc:"When Teams stops showing it."`
	RefreshBy    *time.Time `json:"refreshBy,omitempty" doc:"Set it again before this to keep it showing (an Available session fades after 5 minutes)."`
	Attempts     int        `json:"attempts" doc:"Requests made to Graph (more than one when it throttled)."`
}

// writeOutcome is 200 with what Teams now shows, or 202 with an operation
// when Graph throttled beyond the request's deadline.
type writeOutcome struct {
	Status   int
	Location string `header:"Location"`
	Body     any
}

func (s resources) registerWrites(api huma.API) {
	if s.Writes.Writer == nil {
		return
	}
	write := func(id, method, path, summary, desc string) huma.Operation {
		op := withStatus(operation(id, method, path, summary, store.ScopePresenceWrite, "Presence in Teams"), http.StatusNotFound)
		op.Description = desc + " Answers 202 with an operation when Graph throttles beyond the request's time; 409 when the " +
			"tenant has not granted Presence.ReadWrite.All (its admin must consent again)."
		reg := api.OpenAPI().Components.Schemas
		json := func(t reflect.Type) map[string]*huma.MediaType {
			return map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(t, true, "")}}
		}
		op.Responses = map[string]*huma.Response{
			"200": {Description: "Done: what Teams now shows.", Content: json(reflect.TypeFor[written]())},
			"202": {Description: "Accepted: Graph throttled; the operation carries it out after Graph's Retry-After.",
				Headers: map[string]*huma.Param{"Location": {Description: "Where to poll the operation.", Schema: &huma.Schema{Type: "string"}}},
				Content: json(reflect.TypeFor[operationView]())},
		}
		return op
	}
	register(api, write("set-user-presence", http.MethodPut, "/users/{id}/presence", "Show a presence in Teams",
		"A presence session of our app (setPresence), e.g. Busy/InACall while the user is on a call on the platform."),
		func(ctx context.Context, in *presenceSetInput) (*writeOutcome, error) {
			return s.write(ctx, in.ID, "presence.set", in.request(writeback.KindSetPresence))
		})
	register(api, write("clear-user-presence", http.MethodDelete, "/users/{id}/presence", "Clear our presence in Teams",
		"Ends our app's presence session (clearPresence): Teams shows the user's own state again."),
		func(ctx context.Context, in *userRef) (*writeOutcome, error) {
			return s.write(ctx, in.ID, "presence.cleared", writeback.Request{Kind: writeback.KindClearPresence})
		})
	register(api, write("set-user-preferred-presence", http.MethodPut, "/users/{id}/preferred-presence", "Set a user's preferred presence",
		"The state the user would choose in Teams (setUserPreferredPresence); it overrides sessions."),
		func(ctx context.Context, in *presenceSetInput) (*writeOutcome, error) {
			return s.write(ctx, in.ID, "preferred_presence.set", in.request(writeback.KindSetPreferred))
		})
	register(api, write("clear-user-preferred-presence", http.MethodDelete, "/users/{id}/preferred-presence", "Clear a user's preferred presence",
		"clearUserPreferredPresence."),
		func(ctx context.Context, in *userRef) (*writeOutcome, error) {
			return s.write(ctx, in.ID, "preferred_presence.cleared", writeback.Request{Kind: writeback.KindClearPreferred})
		})
	register(api, write("set-user-status-message", http.MethodPut, "/users/{id}/status-message", "Set a user's status message",
		"setStatusMessage; an empty message clears it."),
		func(ctx context.Context, in *statusMessageInput) (*writeOutcome, error) {
			r := writeback.Request{Kind: writeback.KindStatusMessage, Message: in.Body.Message}
			if in.Body.ExpiresAt != nil {
				r.MessageUntil = *in.Body.ExpiresAt
			}
			return s.write(ctx, in.ID, "status_message.set", r)
		})
}

// write carries out r for the user ref names, audited as action.
func (s resources) write(ctx context.Context, ref, action string, r writeback.Request) (*writeOutcome, error) {
	k := keyOf(ctx)
	u, err := s.Store.FindDirectoryUser(ctx, k.TenantID, ref)
	if errors.Is(err, store.ErrUserNotFound) || err == nil && u.ObjectID == nil {
		return nil, errNoUser()
	}
	if err != nil {
		return nil, s.unavailable(ctx, "find user", err)
	}
	user := *u.ObjectID
	detail := map[string]any{"user": user, "kind": r.Kind, "availability": r.Availability, "activity": r.Activity}
	wctx, cancel := context.WithTimeout(ctx, writeDeadline)
	res, err := s.Writes.Writer.Do(wctx, k.TenantID, user, r)
	cancel()
	var throttled *writeback.ThrottledError
	if errors.As(err, &throttled) {
		return s.accept(ctx, k, user, r, throttled.RetryAt, action, detail)
	}
	if err != nil {
		return nil, s.writeRefused(ctx, err)
	}
	if err := s.Store.Audit(ctx, &k.TenantID, actor(k), action, detail); err != nil {
		// Teams shows it; the audit entry is what failed.
		s.Logger.ErrorContext(ctx, "api: audit a presence write", "err", err)
	}
	out := written{Availability: res.Availability, Activity: res.Activity, Attempts: res.Attempts}
	if !res.Expires.IsZero() {
		out.ExpiresAt = &res.Expires
	}
	if !res.RefreshBy.IsZero() {
		out.RefreshBy = &res.RefreshBy
	}
	return &writeOutcome{Status: http.StatusOK, Body: out}, nil
}

// accept records a throttled write as an operation and schedules it.
func (s resources) accept(ctx context.Context, k store.APIKey, user uuid.UUID, r writeback.Request, at time.Time, action string, detail map[string]any) (*writeOutcome, error) {
	var op store.Operation
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if op, err = tx.CreateOperation(ctx, k.TenantID, store.OperationPresenceWrite, &user, actor(k)); err != nil {
			return err
		}
		detail["operation"], detail["throttledUntil"] = op.ID, at
		return tx.Audit(ctx, &k.TenantID, actor(k), action, detail)
	})
	if err != nil {
		return nil, s.unavailable(ctx, "accept a throttled presence write", err)
	}
	if err := s.Writes.Enqueue(ctx, jobs.PresenceWriteArgs{Operation: op.ID, Tenant: k.TenantID, User: user, Request: r}, at); err != nil {
		if ferr := s.Store.FinishOperation(context.WithoutCancel(ctx), op.ID, "could not be scheduled: "+err.Error()); ferr != nil {
			s.Logger.ErrorContext(ctx, "api: fail an unscheduled operation", "err", ferr)
		}
		return nil, s.unavailable(ctx, "schedule a presence write", err)
	}
	return &writeOutcome{Status: http.StatusAccepted, Location: "/api/v1/operations/" + op.ID.String(), Body: toOperation(op)}, nil
}

// writeRefused answers a write Graph or our checks refused.
func (s resources) writeRefused(ctx context.Context, err error) error {
	var invalid *writeback.InvalidError
	var denied *writeback.PermissionError
	switch {
	case errors.As(err, &invalid):
		loc := "body"
		if invalid.Field == "expires" {
			loc = "body.expiresInSeconds"
		}
		details := []error{&huma.ErrorDetail{Location: loc, Message: invalid.Reason}}
		if len(invalid.Allowed) > 0 {
			details = append(details, &huma.ErrorDetail{Location: "body", Message: "allowed pairs: " + pairs(invalid.Allowed)})
		}
		return huma.Error422UnprocessableEntity(invalid.Error(), details...)
	case errors.As(err, &denied):
		return huma.Error409Conflict("Re-consent needed for presence write-back: the tenant's administrator has not granted " +
			denied.Missing + " to the app. Ask them to consent again; until then presence cannot be written into Teams.")
	case errors.Is(err, writeback.ErrUserNotFound):
		return huma.Error404NotFound("Microsoft Graph does not know this user.")
	default:
		return s.unavailable(ctx, "write presence", err)
	}
}

func pairs(ps []presence.Pair) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s/%s", p.Availability, p.Activity)
	}
	return strings.Join(out, ", ")
}
