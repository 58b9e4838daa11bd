package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
)

// GET /tenant: the tenant's status in one answer — its health, the admin
// consent and the application permissions it granted, the presence
// monitors and how many users they can cover, the roster's counts, and
// the alerts an administrator must act on.

type tenantStatus struct {
	ID       uuid.UUID    `json:"id" format:"uuid"`
	Name     string       `json:"name"`
	Status   string       `json:"status" enum:"onboarding,active,suspended,degraded" doc:"degraded: active, but its access to Microsoft is broken (health says why)."`
	Health   tenantHealth `json:"health"`
	Consent  consent      `json:"consent"`
	Monitors capacity     `json:"monitors"`
	Users    userCounts   `json:"users"`
	Alerts   []alert      `json:"alerts" nullable:"false" doc:"Open alerts, newest first."`
}

type tenantHealth struct {
	Status    string     `json:"status" enum:"healthy,degraded"`
	Condition string     `json:"condition,omitempty" doc:"What is broken, e.g. consent_withdrawn, app_disabled, secret_expired."`
	Reason    string     `json:"reason,omitempty" doc:"Microsoft's identity platform's answer."`
	Since     *time.Time `json:"since,omitempty"`
}

type consent struct {
	Status            string     `json:"status" enum:"pending,granted,failed" doc:"Whether a Global Administrator granted Presence Bridge's app admin consent."`
	Error             string     `json:"error,omitempty" doc:"Why the last consent did not succeed."`
	GrantedAt         *time.Time `json:"grantedAt,omitempty"`
	MicrosoftTenantID *uuid.UUID `json:"microsoftTenantId,omitempty" format:"uuid"`
	Roles             []string   `json:"roles,omitempty" doc:"The application permissions the app holds in the Microsoft tenant, from its app-only token; absent when they could not be read (rolesError says so)."`
	RolesError        string     `json:"rolesError,omitempty"`
}

type capacity struct {
	Authorized int       `json:"authorized" doc:"Monitors whose subscriptions cover users."`
	PerMonitor int       `json:"perMonitor" doc:"Users one monitor covers at most: Microsoft Graph's limit per presence subscription."`
	Capacity   int       `json:"capacity" doc:"Users the authorized monitors can cover together."`
	Assigned   int       `json:"assigned" doc:"Users they cover now."`
	Items      []monitor `json:"items" nullable:"false"`
}

type userCounts struct {
	Total       int            `json:"total"`
	Monitored   int            `json:"monitored" doc:"Resolved and covered by an authorized monitor."`
	Unmonitored int            `json:"unmonitored" doc:"Resolved, but no authorized monitor has room: authorize more monitors."`
	Unresolved  int            `json:"unresolved" doc:"Not found, disabled or duplicates: not monitored (GET /users?status=… lists them)."`
	Pending     int            `json:"pending" doc:"Not looked up yet."`
	ByStatus    map[string]int `json:"byStatus" doc:"Users by resolution status."`
	Source      rosterSource   `json:"source"`
}

type alert struct {
	ID       int64          `json:"id"`
	Kind     string         `json:"kind" doc:"e.g. tenant_access, users_unresolved, users_unmonitored, monitor_needs_reauth."`
	Subject  string         `json:"subject,omitempty"`
	Message  string         `json:"message" doc:"What is wrong and how to fix it, for an administrator."`
	Detail   map[string]any `json:"detail,omitempty"`
	RaisedAt time.Time      `json:"raisedAt"`
}

type tenantOutput struct{ Body tenantStatus }

func (s resources) registerTenant(api huma.API) {
	register(api, operation("get-tenant", http.MethodGet, "/tenant", "Get the tenant's status", store.ScopePresenceRead, "Tenant"),
		func(ctx context.Context, _ *struct{}) (*tenantOutput, error) {
			t, err := s.tenantStatus(ctx, keyOf(ctx).TenantID)
			if err != nil {
				return nil, s.unavailable(ctx, "get tenant", err)
			}
			return &tenantOutput{Body: t}, nil
		})
}

func (s resources) tenantStatus(ctx context.Context, tenantID uuid.UUID) (tenantStatus, error) {
	h, err := s.views.Health(ctx, tenantID)
	if err != nil {
		return tenantStatus{}, err
	}
	out := tenantStatus{ID: h.Tenant.ID, Name: h.Tenant.Name, Status: h.Status.Status,
		Health:  tenantHealth{Status: h.Status.Health, Condition: h.Status.Condition, Reason: h.Status.Reason, Since: h.Status.HealthChangedAt},
		Consent: s.consent(ctx, h.Tenant.ID, h.Consent)}
	ms, err := s.monitors(ctx, tenantID)
	if err != nil {
		return tenantStatus{}, err
	}
	out.Monitors = capacity{PerMonitor: graphapi.MaxPresenceIDs, Items: ms}
	for _, m := range ms {
		out.Monitors.Capacity += m.Capacity
		out.Monitors.Assigned += m.Users
		if m.Status == store.MonitorAuthorized {
			out.Monitors.Authorized++
		}
	}
	sum := h.Roster
	out.Users = userCounts{Total: sum.Users.Total, Monitored: sum.Users.Monitored, Unmonitored: sum.Users.Unmonitored,
		Unresolved: sum.Users.Unresolved, Pending: sum.Users.Pending, ByStatus: sum.Counts, Source: toRosterSource(sum.Source)}
	out.Alerts = []alert{}
	for _, a := range h.Alerts {
		out.Alerts = append(out.Alerts, alert{ID: a.ID, Kind: a.Kind, Subject: a.Subject, Message: a.Message, Detail: a.Detail, RaisedAt: a.RaisedAt})
	}
	return out, nil
}

// consent is the admin consent as the tenant view reads it, with the roles
// the app's token carries now (the engine's view, which notices a grant
// withdrawn or added since): the API reads them live, the pages do not.
func (s resources) consent(ctx context.Context, tenantID uuid.UUID, v tenantview.Consent) consent {
	c := consent{Status: v.Status, Error: v.Error, GrantedAt: v.GrantedAt, MicrosoftTenantID: v.MicrosoftTenantID}
	if v.Status != "granted" || s.Grants == nil {
		return c
	}
	roles, err := s.Grants(ctx, tenantID)
	if err != nil {
		s.Logger.WarnContext(ctx, "api: tenant's granted roles not read", "tenant", tenantID, "err", err)
		c.RolesError = "The permissions could not be read from Microsoft just now; the tenant's health and alerts say whether its access is broken."
		return c
	}
	c.Roles = roles
	return c
}
