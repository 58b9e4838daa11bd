package api

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"presencebridge/internal/roster"
	"presencebridge/internal/tenantview"
)

// The tenant's resources: its status (tenant.go), the monitored users
// (users.go), their presence (presence.go), syncs from Graph (sync.go) and
// the presence monitors (monitors.go). Their rules live in internal/…: the
// roster package is the one way users enter or leave, the engine's re-read
// queue runs syncs, onboarding makes monitors' sign-in links; the handlers
// decode, call those, and render.

// Resources are what the tenant's resources need beyond Deps.
type Resources struct {
	// Links makes monitors' Copy-URL sign-in links (*onboarding.Service).
	Links MonitorLinks
	// Grants reads the application permissions a tenant granted our app,
	// from its app-only token (engine.GraphClients, as cached); nil: the
	// tenant's status shows none.
	Grants func(ctx context.Context, tenantID uuid.UUID) ([]string, error)
	// Writes write presence into Teams (writeback.go); without a Writer
	// those routes are not served.
	Writes Writes
}

// MonitorLinks makes a monitor's Copy-URL sign-in link, withdrawing its
// earlier ones, audited by actor, and says until when it works
// (*onboarding.Service, as the portal's and onboarding's Copy URL).
type MonitorLinks interface {
	IssueMonitorLink(ctx context.Context, tenantID, monitorID uuid.UUID, actor string) (string, time.Time, error)
}

// resources serves the tenant's resources.
type resources struct {
	Deps
	Resources
	roster *roster.Roster
	views  *tenantview.Reader
}

// registerResources registers the tenant's resources on api.
func (d Deps) registerResources(api huma.API, res Resources) {
	s := resources{Deps: d, Resources: res, roster: roster.New(d.Store), views: tenantview.New(d.Store)}
	s.registerTenant(api)
	s.registerUsers(api)
	s.registerRosterSource(api)
	s.registerPresence(api)
	s.registerSync(api)
	s.registerMonitors(api)
	s.registerWrites(api)
}

// Pages: a list takes ?limit= (1–maxPageSize) and ?cursor=, the opaque
// nextCursor of the page before.
const maxPageSize = 1000

// cursor is an opaque page cursor: the key of the last item of the page
// before, which the client must not read into.
func cursor(key []byte) string { return base64.RawURLEncoding.EncodeToString(key) }

// fromCursor is the key a cursor holds; a cursor no page gave is a 422
// naming the parameter.
func fromCursor(c string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, badCursor(c)
	}
	return b, nil
}

func badCursor(c string) error {
	return huma.Error422UnprocessableEntity("The cursor is not one a page gave: pass nextCursor as it came.",
		&huma.ErrorDetail{Location: "query.cursor", Message: "not a cursor of this list", Value: c})
}

// withStatus adds statuses an operation may answer beside operation()'s.
func withStatus(op huma.Operation, statuses ...int) huma.Operation {
	op.Errors = append(op.Errors, statuses...)
	return op
}

// errNoUser is the answer for a user that is not on the tenant's roster,
// whatever the reference: another tenant's user is as unknown as nobody.
func errNoUser() error {
	return huma.Error404NotFound("No user on this tenant's roster has that object id or UPN.")
}
