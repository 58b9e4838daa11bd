package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
	"presencebridge/internal/tokens"
)

// Client is one Graph client as the engine, and the presence writer
// (AppWriter) use it (*graph.Client, built by the caller: the engine does
// not link the SDK).
type Client interface {
	graphapi.Subscriber
	graphapi.PresenceReader
	graphapi.PresenceWriter
	roster.Directory
}

// NewClient returns a Graph client that asks token for its access token
// before each request.
type NewClient func(token func(context.Context) (string, error)) (Client, error)

// AppTokens issues app-only (client credentials) tokens (*identity.Client).
type AppTokens interface {
	AppTokenFor(ctx context.Context, app identity.App, msTenant string) (identity.AppToken, error)
}

// ClientsOptions configure GraphClients.
type ClientsOptions struct {
	Store       *store.Store
	Monitors    Tokens             // monitors' delegated tokens (*tokens.Vault)
	Credentials tokens.Credentials // the app registration each tenant consented to
	AppTokens   AppTokens
	NewClient   NewClient
	// ClientID is our own app registration's (a tenant may use its own).
	ClientID string
	// ConsentURL is where an administrator of msTenant grants app its
	// permissions again, the fix the access alerts link to
	// (onboarding.Service.ReconsentURL: Microsoft's admin consent,
	// returning to a callback of ours). Nil leaves the alerts without a
	// link.
	ConsentURL func(app identity.App, msTenant string) string
}

// GraphClients gives the engine its Graph clients, per tenant: a
// monitor's with the monitor's delegated token (refreshed by the vault
// under its row lock), and an app-only one from client credentials,
// which reads presence where the tenant granted Presence.Read.All and
// serves the roster's directory. It implements Clients and AccessChecker,
// and hands the presence writer the same app-only client (Writer).
type GraphClients struct {
	opts ClientsOptions

	mu   sync.Mutex // guards apps only, never held across a network call
	apps map[uuid.UUID]*appClient
}

// NewGraphClients returns GraphClients with an empty token cache.
func NewGraphClients(opts ClientsOptions) *GraphClients {
	return &GraphClients{opts: opts, apps: map[uuid.UUID]*appClient{}}
}

// Monitor is a client acting as the monitor (it holds the monitor's
// subscription).
func (g *GraphClients) Monitor(ctx context.Context, tenantID, monitorID uuid.UUID) (graphapi.Subscriber, error) {
	return g.opts.NewClient(func(ctx context.Context) (string, error) {
		return g.opts.Monitors.MonitorToken(ctx, tenantID, monitorID)
	})
}

// Reader reads presence for repairs with the tenant's app-only token
// where the tenant granted Presence.Read.All (application), else with one
// of its authorized monitors' delegated tokens.
func (g *GraphClients) Reader(ctx context.Context, tenantID uuid.UUID) (graphapi.PresenceReader, error) {
	c, roles, err := g.appClient(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(roles, "Presence.Read.All") {
		return g.monitorReader(ctx, tenantID)
	}
	return c, nil
}

// Directory is the app-only client the roster resolves users and reads
// groups with.
func (g *GraphClients) Directory(ctx context.Context, tenantID uuid.UUID) (roster.Directory, error) {
	c, _, err := g.appClient(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CheckAccess asks the identity platform for a new app-only token for the
// tenant, whatever is cached: a withdrawn consent shows only there (an
// access token already issued stays valid until it expires), and so does a
// permission granted since. The new token replaces the cached one, so the
// check costs one token request per tenant and pass; Access.Roles are its
// roles.
func (g *GraphClients) CheckAccess(ctx context.Context, tenantID uuid.UUID) (Access, error) {
	acc, err := g.access(ctx, tenantID)
	if err != nil {
		return Access{}, err
	}
	tok, err := g.app(tenantID).token(ctx, true)
	acc.Roles = tok.Roles
	return acc, err
}

// access names the app registration the tenant's access goes through.
func (g *GraphClients) access(ctx context.Context, tenantID uuid.UUID) (Access, error) {
	app, msTenant, err := g.opts.Credentials(ctx, tenantID)
	if err != nil {
		return Access{}, err
	}
	acc := Access{ClientID: app.ClientID, MSTenant: msTenant, OwnApp: app.ClientID != g.opts.ClientID}
	if g.opts.ConsentURL != nil {
		acc.ConsentURL = g.opts.ConsentURL(identity.App{ClientID: app.ClientID}, msTenant) // the secret stays here
	}
	return acc, nil
}

// AppWriter is a tenant's app-only client as writing presence into Teams
// needs it (internal/writeback): another user's presence can be written
// only with the application permission Presence.ReadWrite.All, never with
// a monitor's delegated token, which reaches its own presence alone.
type AppWriter struct {
	graphapi.PresenceWriter
	// Roles are the app roles its token carries, as cached: a grant given
	// since shows after CheckAccess.
	Roles []string
	// Access names the app registration: its ClientID is setPresence's
	// sessionId, its ConsentURL where an administrator grants what is
	// missing.
	Access Access
}

// Writer is the tenant's app-only client for writing presence, sharing
// the token cache of the engine's reads.
func (g *GraphClients) Writer(ctx context.Context, tenantID uuid.UUID) (AppWriter, error) {
	acc, err := g.access(ctx, tenantID)
	if err != nil {
		return AppWriter{}, err
	}
	c, roles, err := g.appClient(ctx, tenantID)
	if err != nil {
		return AppWriter{}, err
	}
	acc.Roles = roles
	return AppWriter{PresenceWriter: c, Roles: roles, Access: acc}, nil
}

// appClient is a tenant's app-only client and its token. mu is the
// tenant's own: a slow token request holds up that tenant alone.
type appClient struct {
	g        *GraphClients
	tenantID uuid.UUID
	c        Client

	mu  sync.Mutex
	tok identity.AppToken // zero until a request succeeds
}

func (g *GraphClients) app(tenantID uuid.UUID) *appClient {
	g.mu.Lock()
	defer g.mu.Unlock()
	ac := g.apps[tenantID]
	if ac == nil {
		ac = &appClient{g: g, tenantID: tenantID}
		g.apps[tenantID] = ac
	}
	return ac
}

// token returns the cached token while it has 5 minutes left (or always a
// new one with fresh). A failed request is never cached; one saying the
// tenant's access is gone (consent withdrawn, say) also drops the cached
// token, so nothing more is read with a grant the customer took back.
func (ac *appClient) token(ctx context.Context, fresh bool) (identity.AppToken, error) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if !fresh && time.Until(ac.tok.Expiry) > 5*time.Minute {
		return ac.tok, nil
	}
	app, msTenant, err := ac.g.opts.Credentials(ctx, ac.tenantID)
	if err != nil {
		return identity.AppToken{}, err
	}
	t, err := ac.g.opts.AppTokens.AppTokenFor(ctx, app, msTenant)
	if err != nil {
		if _, gone := identity.TenantProblemOf(err); gone {
			ac.tok = identity.AppToken{}
		}
		return identity.AppToken{}, err
	}
	ac.tok = t
	return t, nil
}

// appClient is the tenant's app-only client (its token cached until 5
// minutes before expiry) and the roles its token carries.
func (g *GraphClients) appClient(ctx context.Context, tenantID uuid.UUID) (Client, []string, error) {
	ac := g.app(tenantID)
	tok, err := ac.token(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.c == nil {
		c, err := g.opts.NewClient(func(ctx context.Context) (string, error) {
			t, err := ac.token(ctx, false)
			return t.AccessToken, err
		})
		if err != nil {
			return nil, nil, err
		}
		ac.c = c
	}
	return ac.c, tok.Roles, nil
}

// monitorReader reads with the first authorized monitor's token (not
// cached: the monitor may lose its grant).
func (g *GraphClients) monitorReader(ctx context.Context, tenantID uuid.UUID) (graphapi.PresenceReader, error) {
	ms, err := g.opts.Store.AuthorizedMonitors(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errors.New("engine: no app-only Presence.Read.All grant and no authorized monitor to read presence with")
	}
	m := ms[0].ID
	return g.opts.NewClient(func(ctx context.Context) (string, error) {
		return g.opts.Monitors.MonitorToken(ctx, tenantID, m)
	})
}
