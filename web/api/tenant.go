package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/store"
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
	huma.Register(api, operation("get-tenant", http.MethodGet, "/tenant", "Get the tenant's status", store.ScopePresenceRead, "Tenant"),
		func(ctx context.Context, _ *struct{}) (*tenantOutput, error) {
			t, err := s.tenantStatus(ctx, keyOf(ctx).TenantID)
			if err != nil {
				return nil, s.unavailable(ctx, "get tenant", err)
			}
			return &tenantOutput{Body: t}, nil
		})
}

func (s resources) tenantStatus(ctx context.Context, tenantID uuid.UUID) (tenantStatus, error) {
	t, err := s.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return tenantStatus{}, err
	}
	ts, err := s.Store.TenantStatusOf(ctx, tenantID)
	if err != nil {
		return tenantStatus{}, err
	}
	out := tenantStatus{ID: t.ID, Name: t.Name, Status: ts.Status,
		Health: tenantHealth{Status: ts.Health, Condition: ts.Condition, Reason: ts.Reason, Since: ts.HealthChangedAt}}
	if out.Consent, err = s.consent(ctx, t); err != nil {
		return tenantStatus{}, err
	}
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
	sum, err := s.roster.Summary(ctx, tenantID)
	if err != nil {
		return tenantStatus{}, err
	}
	out.Users = userCounts{Total: sum.Users.Total, Monitored: sum.Users.Monitored, Unmonitored: sum.Users.Unmonitored,
		Unresolved: sum.Users.Unresolved, Pending: sum.Users.Pending, ByStatus: sum.Counts, Source: toRosterSource(sum.Source)}
	if out.Alerts, err = s.openAlerts(ctx, tenantID); err != nil {
		return tenantStatus{}, err
	}
	return out, nil
}

// consent is the admin consent as onboarding recorded it, with the roles
// the app's token carries now (the engine's view, which notices a grant
// withdrawn or added since).
func (s resources) consent(ctx context.Context, t store.Tenant) (consent, error) {
	o, err := s.Store.GetOnboarding(ctx, t.ID)
	switch {
	case errors.Is(err, store.ErrTenantNotFound):
		// A tenant made without an invitation (an operator's, a demo):
		// consent shows in the Microsoft tenant it is connected to.
		o.ConsentStatus = "pending"
		if t.MSTenantID != nil {
			o.ConsentStatus = "granted"
		}
	case err != nil:
		return consent{}, err
	}
	c := consent{Status: o.ConsentStatus, Error: o.ConsentError, GrantedAt: o.ConsentedAt, MicrosoftTenantID: t.MSTenantID}
	if o.ConsentStatus != "granted" || s.Grants == nil {
		return c, nil
	}
	roles, err := s.Grants(ctx, t.ID)
	if err != nil {
		s.Logger.WarnContext(ctx, "api: tenant's granted roles not read", "tenant", t.ID, "err", err)
		c.RolesError = "The permissions could not be read from Microsoft just now; the tenant's health and alerts say whether its access is broken."
		return c, nil
	}
	c.Roles = roles
	return c, nil
}

func (s resources) openAlerts(ctx context.Context, tenantID uuid.UUID) ([]alert, error) {
	as, err := s.Store.Alerts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := []alert{}
	for _, a := range as {
		if a.ResolvedAt != nil {
			break // open ones come first
		}
		out = append(out, alert{ID: a.ID, Kind: a.Kind, Subject: a.Subject, Message: a.Message, Detail: a.Detail, RaisedAt: a.RaisedAt})
	}
	return out, nil
}
