package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/store"
)

// The roster's source: a list kept through the API (and the onboarding
// form), or the members of one Entra group, which the engine follows with
// Graph's delta query (and then adding or removing users by hand is 409).

type rosterSource struct {
	Kind          string     `json:"kind" enum:"list,group" doc:"list: users are added and removed through the API; group: the members of an Entra group."`
	GroupID       *uuid.UUID `json:"groupId,omitempty" format:"uuid" doc:"The Entra group's object id (kind group)."`
	LastSyncAt    *time.Time `json:"lastSyncAt,omitempty" doc:"When the group's members were last read."`
	LastSyncError string     `json:"lastSyncError,omitempty" doc:"Why the last read of the group failed."`
}

func toRosterSource(src store.RosterSource) rosterSource {
	return rosterSource{Kind: src.Kind, GroupID: src.GroupID, LastSyncAt: src.LastSyncAt, LastSyncError: src.LastSyncError}
}

type rosterSourceOutput struct{ Body rosterSource }

type rosterSourceInput struct {
	Body struct {
		Kind    string     `json:"kind" enum:"list,group"`
		GroupID *uuid.UUID `json:"groupId,omitempty" format:"uuid" doc:"Required with kind group, refused with list."`
	}
}

func (s resources) registerRosterSource(api huma.API) {
	register(api, operation("get-users-source", http.MethodGet, "/users/source", "Get the roster's source", store.ScopePresenceRead, "Users"),
		func(ctx context.Context, _ *struct{}) (*rosterSourceOutput, error) {
			src, err := s.Store.TenantRosterSource(ctx, keyOf(ctx).TenantID)
			if err != nil {
				return nil, s.unavailable(ctx, "get roster source", err)
			}
			return &rosterSourceOutput{Body: toRosterSource(src)}, nil
		})

	op := operation("put-users-source", http.MethodPut, "/users/source", "Choose the roster's source", store.ScopeUsersWrite, "Users")
	op.Description = "A group makes its members the roster: the engine's next pass reads the group and replaces every user " +
		"(choosing the group already followed changes nothing). A list keeps the users there and lets the API add and remove them."
	register(api, op, func(ctx context.Context, in *rosterSourceInput) (*rosterSourceOutput, error) {
		return s.putRosterSource(ctx, in.Body.Kind, in.Body.GroupID)
	})
}

func (s resources) putRosterSource(ctx context.Context, kind string, group *uuid.UUID) (*rosterSourceOutput, error) {
	switch {
	case kind == store.SourceGroup && group == nil:
		return nil, huma.Error422UnprocessableEntity("A group roster needs the group's object id.",
			&huma.ErrorDetail{Location: "body.groupId", Message: "required with kind group"})
	case kind == store.SourceList && group != nil:
		return nil, huma.Error422UnprocessableEntity("A list roster has no group.",
			&huma.ErrorDetail{Location: "body.groupId", Message: "must be absent with kind list", Value: group})
	}
	k := keyOf(ctx)
	src, err := s.roster.SetSource(ctx, k.TenantID, actor(k), group)
	if err != nil {
		return nil, s.unavailable(ctx, "put roster source", err)
	}
	return &rosterSourceOutput{Body: toRosterSource(src)}, nil
}
