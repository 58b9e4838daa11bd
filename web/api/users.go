package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/roster"
	"presencebridge/internal/store"
)

// Users: the tenant's roster, the users whose presence is monitored. Listed
// a page at a time (filtered by resolution status, monitored or not, UPN
// prefix), read by object id or UPN, upserted up to maxBulkUsers per call
// and removed, always through the roster package, as the onboarding form's
// changes are. Each entry is resolved to a Microsoft Entra user by the
// engine's next pass; its resolution says how that went.

// maxBulkUsers is how many entries one bulk upsert takes.
const maxBulkUsers = 10_000

// maxBulkBytes bounds a bulk upsert's body: maxBulkUsers entries of the
// longest UPN and external id the roster stores (256 characters each) fit.
const maxBulkBytes = maxBulkUsers * 800 // 8 MB: 800 bytes an entry

// user is a roster entry as the API shows it.
type user struct {
	ID          *uuid.UUID `json:"id,omitempty" format:"uuid" doc:"The user's Microsoft Entra object id, once resolved."`
	UPN         string     `json:"upn" doc:"The UPN or e-mail address as entered."`
	ExternalID  string     `json:"externalId,omitempty" doc:"The telephony platform's own id for the user."`
	DisplayName string     `json:"displayName,omitempty"`
	Resolution  resolution `json:"resolution"`
	Monitored   bool       `json:"monitored" doc:"Resolved and covered by an authorized presence monitor's subscription."`
	MonitorID   *uuid.UUID `json:"monitorId,omitempty" format:"uuid" doc:"The presence monitor whose subscription covers the user."`
	Source      string     `json:"source" enum:"list,csv,group" doc:"How the user entered the roster."`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

type resolution struct {
	Status string `json:"status" enum:"pending,resolved,not_found,disabled,duplicate" doc:"pending: not looked up yet (or to be retried); resolved: found and enabled; not_found, disabled: not monitored; duplicate: the same account as another entry."`
	Error  string `json:"error,omitempty" doc:"Why the user is not resolved, in words."`
}

func toUser(u store.DirectoryUser) user {
	return user{ID: u.ObjectID, UPN: u.UPN, ExternalID: u.ExternalID, DisplayName: u.DisplayName,
		Resolution: resolution{Status: u.Status, Error: u.Error}, Monitored: u.Monitored, MonitorID: u.MonitorID,
		Source: u.Source, UpdatedAt: u.UpdatedAt}
}

type listUsersInput struct {
	Cursor    string `query:"cursor" maxLength:"400" doc:"The nextCursor of the page before; absent: the first page."`
	Limit     int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"How many users at most."`
	Status    string `query:"status" enum:"pending,resolved,not_found,disabled,duplicate" doc:"Only users with this resolution status."`
	Monitored string `query:"monitored" enum:"true,false" doc:"Only users who are (true) or are not (false) monitored."`
	Q         string `query:"q" maxLength:"256" doc:"Only users whose UPN starts with this, in any case."`
}

type userList struct{ Body list[user] }

type userOutput struct{ Body user }

type userRef struct {
	ID string `path:"id" doc:"The user's object id, or the UPN as entered."`
}

type bulkEntry struct {
	UPN        string `json:"upn" minLength:"1" maxLength:"256" doc:"The user's UPN or e-mail address."`
	ExternalID string `json:"externalId,omitempty" maxLength:"256" doc:"The telephony platform's own id for the user; absent: the one stored is kept."`
}

type bulkInput struct {
	Body struct {
		Users []bulkEntry `json:"users" minItems:"1" maxItems:"10000" doc:"Up to 10,000 entries, no UPN twice."`
	}
}

type bulkOutput struct {
	Body struct {
		Added     int `json:"added" doc:"Entries new to the roster, to be resolved."`
		Updated   int `json:"updated" doc:"Entries that changed a user already there: another external id, or a failed lookup to try again."`
		Unchanged int `json:"unchanged" doc:"Entries the roster already held as given."`
	}
}

func (s resources) registerUsers(api huma.API) {
	register(api, operation("list-users", http.MethodGet, "/users", "List users", store.ScopePresenceRead, "Users"),
		func(ctx context.Context, in *listUsersInput) (*userList, error) {
			return s.listUsers(ctx, in)
		})

	op := withStatus(operation("get-user", http.MethodGet, "/users/{id}", "Get a user", store.ScopePresenceRead, "Users"), http.StatusNotFound)
	register(api, op, func(ctx context.Context, in *userRef) (*userOutput, error) {
		u, err := s.Store.FindDirectoryUser(ctx, keyOf(ctx).TenantID, in.ID)
		if errors.Is(err, store.ErrUserNotFound) {
			return nil, errNoUser()
		}
		if err != nil {
			return nil, s.unavailable(ctx, "get user", err)
		}
		return &userOutput{Body: toUser(u)}, nil
	})

	// POST /users:bulk, not PUT /users: a PUT would replace the whole
	// collection with the body, and this adds to it and changes entries
	// in place, leaving every user the body does not name.
	op = operation("upsert-users", http.MethodPost, "/users:bulk", "Add or update users", store.ScopeUsersWrite, "Users")
	op.Description = "Adds the entries not on the roster and updates the external id of those already there (matched by UPN, in any case); " +
		"users the body does not name stay. All or nothing: with any bad entry nothing changes, and the 422 names every bad entry. " +
		"A tenant whose roster follows an Entra group answers 409."
	op.MaxBodyBytes = maxBulkBytes
	register(api, op, func(ctx context.Context, in *bulkInput) (*bulkOutput, error) {
		return s.upsertUsers(ctx, in)
	})

	op = withStatus(operation("delete-user", http.MethodDelete, "/users/{id}", "Remove a user", store.ScopeUsersWrite, "Users"), http.StatusNotFound)
	op.Description = "Takes the user off the roster: their presence is no longer monitored. A tenant whose roster follows an Entra group answers 409."
	op.DefaultStatus = http.StatusNoContent
	register(api, op, func(ctx context.Context, in *userRef) (*struct{}, error) {
		return nil, s.deleteUser(ctx, in.ID)
	})
}

func (s resources) listUsers(ctx context.Context, in *listUsersInput) (*userList, error) {
	f := store.UserFilter{Status: in.Status, UPNPrefix: in.Q, Limit: in.Limit + 1}
	if in.Monitored != "" {
		m := in.Monitored == "true"
		f.Monitored = &m
	}
	if in.Cursor != "" {
		after, err := fromCursor(in.Cursor)
		if err != nil {
			return nil, err
		}
		if f.After = string(after); !store.Storable(f.After) {
			return nil, badCursor(in.Cursor) // no page gave it: a page's cursor is a stored UPN
		}
	}
	us, err := s.Store.DirectoryUsersPage(ctx, keyOf(ctx).TenantID, f)
	if err != nil {
		return nil, s.unavailable(ctx, "list users", err)
	}
	out := &userList{Body: list[user]{Data: make([]user, 0, min(len(us), in.Limit))}}
	for i, u := range us {
		if i == in.Limit {
			out.Body.NextCursor = cursor([]byte(strings.ToLower(us[i-1].UPN)))
			break
		}
		out.Body.Data = append(out.Body.Data, toUser(u))
	}
	return out, nil
}

func (s resources) upsertUsers(ctx context.Context, in *bulkInput) (*bulkOutput, error) {
	k := keyOf(ctx)
	entries, err := in.entries()
	if err != nil {
		return nil, err
	}
	res, err := s.roster.Add(ctx, k.TenantID, actor(k), entries)
	if err != nil {
		return nil, s.rosterFailed(ctx, "upsert users", err)
	}
	out := &bulkOutput{}
	out.Body.Added, out.Body.Updated, out.Body.Unchanged = res.Added, res.Updated, res.Unchanged
	return out, nil
}

// entries are the body's users as the roster takes them (roster.Entries:
// trimmed, checked), or the 422 naming every bad one.
func (in *bulkInput) entries() ([]roster.Entry, error) {
	given := make([]roster.Entry, len(in.Body.Users))
	for i, e := range in.Body.Users {
		given[i] = roster.Entry{UPN: e.UPN, TelephonyID: e.ExternalID}
	}
	entries, err := roster.Entries(given)
	if err != nil {
		return nil, entriesProblem(err)
	}
	return entries, nil
}

// entriesProblem is a 422 naming every bad entry of a bulk upsert by its
// place in the body.
func entriesProblem(err error) error {
	var ee *roster.EntriesError
	if !errors.As(err, &ee) {
		return huma.Error422UnprocessableEntity(err.Error())
	}
	details := make([]error, len(ee.Problems))
	for i, p := range ee.Problems {
		details[i] = &huma.ErrorDetail{Location: fmt.Sprintf("body.users[%d].upn", p.Line-1), Message: p.Message, Value: p.Value}
	}
	return huma.Error422UnprocessableEntity(fmt.Sprintf("%d entries cannot be taken; nothing was changed.", len(ee.Problems)), details...)
}

func (s resources) deleteUser(ctx context.Context, ref string) error {
	k := keyOf(ctx)
	_, err := s.roster.RemoveUser(ctx, k.TenantID, actor(k), ref)
	if errors.Is(err, store.ErrUserNotFound) {
		return errNoUser()
	}
	if err != nil {
		return s.rosterFailed(ctx, "delete user", err)
	}
	return nil
}

// rosterFailed answers a roster change's error.
func (s resources) rosterFailed(ctx context.Context, op string, err error) error {
	if errors.Is(err, roster.ErrGroupRoster) {
		return huma.Error409Conflict("The roster follows an Entra group: change the group's members, or make the roster a list first (PUT /users/source).")
	}
	return s.unavailable(ctx, op, err)
}
