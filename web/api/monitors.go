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
	"presencebridge/internal/tenantview"
)

// Presence monitors: the accounts whose presence subscriptions cover the
// tenant's users, graphapi.MaxPresenceIDs users each. Listed with their
// status and load; a "Copy URL" sign-in link is made for one, as the
// onboarding page makes it, for whoever holds its credentials to open.

type monitor struct {
	ID           uuid.UUID  `json:"id" format:"uuid"`
	UPN          string     `json:"upn"`
	DisplayName  string     `json:"displayName,omitempty"`
	Status       string     `json:"status" enum:"pending,authorized,needs_reauth,needs_update,disabled" doc:"pending: not signed in yet; authorized: its subscription covers users; needs_reauth: its sign-in no longer works (make it a new link); needs_update: it must sign in again for a changed app registration; disabled."`
	Reason       string     `json:"reason,omitempty" doc:"Why the monitor is not authorized, as Microsoft's identity platform said."`
	AuthorizedAt *time.Time `json:"authorizedAt,omitempty"`
	Users        int        `json:"users" doc:"Users its subscription covers."`
	Capacity     int        `json:"capacity" doc:"Users it can cover: 650 (Microsoft Graph's limit per presence subscription) when authorized, else 0."`
}

func toMonitor(m tenantview.Monitor) monitor {
	return monitor{ID: m.ID, UPN: m.UPN, DisplayName: m.DisplayName, Status: m.Status, AuthorizedAt: m.AuthorizedAt, Users: m.Users,
		Capacity: m.Capacity, Reason: m.Reason()}
}

type monitorList struct{ Body list[monitor] }

type monitorLink struct {
	Body struct {
		URL       string    `json:"url" format:"uri" doc:"The sign-in link: whoever holds the monitor's credentials opens it and signs in. Treat it as a secret."`
		ExpiresAt time.Time `json:"expiresAt" doc:"When the link stops working; the monitor's sign-in, or a newer link, ends it earlier."`
	}
}

func (s resources) registerMonitors(api huma.API) {
	register(api, operation("list-monitors", http.MethodGet, "/monitors", "List presence monitors", store.ScopePresenceRead, "Monitors"),
		func(ctx context.Context, _ *struct{}) (*monitorList, error) {
			ms, err := s.monitors(ctx, keyOf(ctx).TenantID)
			if err != nil {
				return nil, s.unavailable(ctx, "list monitors", err)
			}
			return &monitorList{Body: list[monitor]{Data: ms}}, nil
		})

	op := withStatus(operation("create-monitor-link", http.MethodPost, "/monitors/{id}/link", "Make a monitor's sign-in link",
		store.ScopeAdmin, "Monitors"), http.StatusNotFound)
	op.Description = "A \"Copy URL\" link, valid 72 hours, that signs the monitor in for whoever opens it with the monitor's credentials " +
		"(no administrator session needed). A new link withdraws the monitor's earlier ones, as Copy URL in the portal does: " +
		"one link works at a time, for one sign-in. Each link is recorded in the audit log, never the link itself."
	register(api, op, func(ctx context.Context, in *idParam) (*monitorLink, error) {
		return s.monitorLink(ctx, in)
	})
}

// monitors lists the tenant's monitors with the users each covers, as
// the tenant pages read them (tenantview); a monitor's capacity here is
// Graph's limit, as documented above.
func (s resources) monitors(ctx context.Context, tenantID uuid.UUID) ([]monitor, error) {
	ms, err := tenantview.New(s.Store).Monitors(ctx, tenantID, graphapi.MaxPresenceIDs)
	if err != nil {
		return nil, err
	}
	out := make([]monitor, 0, len(ms.Items))
	for _, m := range ms.Items {
		out = append(out, toMonitor(m))
	}
	return out, nil
}

func (s resources) monitorLink(ctx context.Context, in *idParam) (*monitorLink, error) {
	k := keyOf(ctx)
	errNoMonitor := huma.Error404NotFound("No presence monitor of this tenant has that id.")
	id, ok := in.parse()
	if !ok {
		return nil, errNoMonitor
	}
	if s.Links == nil {
		return nil, s.unavailable(ctx, "monitor link", errors.New("no MonitorLinks configured"))
	}
	out := &monitorLink{}
	var err error
	out.Body.URL, out.Body.ExpiresAt, err = s.Links.IssueMonitorLink(ctx, k.TenantID, id, actor(k))
	if errors.Is(err, store.ErrMonitorNotFound) {
		return nil, errNoMonitor
	}
	if err != nil {
		return nil, s.unavailable(ctx, "monitor link", err)
	}
	return out, nil
}
