package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/config"
	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/portaladmin"
	"presencebridge/internal/staff"
	"presencebridge/internal/tenantview"
	"presencebridge/web"
	"presencebridge/web/console"
	"presencebridge/web/tenantui"
)

// listenAll listens on PB_HTTP_ADDR and, when set, PB_ADMIN_ADDR, as one
// listener (web.Listeners) that one server serves and drains; the admin
// listener's connections are marked (web.AdminListener), so the console
// and /metrics answer only there. A PB_ADMIN_ADDR of port 0 becomes the
// address bound, as the public listener's does in baseURL: the console's
// URL (config.ConsoleBaseURL: the staff's sign-in callback, what dev
// prints) must name a port that answers.
func listenAll(cfg *config.Config) (net.Listener, error) {
	ln, err := listen(cfg.HTTPAddr)
	if err != nil || cfg.AdminAddr == "" {
		return ln, err
	}
	admin, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		ln.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("PB_ADMIN_ADDR: %s is already in use: stop what uses it or choose another port", cfg.AdminAddr)
		}
		return nil, fmt.Errorf("PB_ADMIN_ADDR: cannot listen on %s: %v", cfg.AdminAddr, err)
	}
	if _, port, err := net.SplitHostPort(cfg.AdminAddr); err == nil && port == "0" {
		_, bound, _ := net.SplitHostPort(admin.Addr().String())
		host, _, _ := net.SplitHostPort(cfg.AdminAddr)
		cfg.AdminAddr = net.JoinHostPort(host, bound)
	}
	return web.Listeners(ln, web.AdminListener(admin)), nil
}

// adminPrefixes are the paths only the admin listener serves, when there
// is one (web.Deps.AdminPrefixes).
func adminPrefixes(cfg *config.Config) []string {
	if cfg.AdminAddr == "" {
		return nil
	}
	return []string{console.Prefix}
}

// consoleRoutes mounts the vendor's staff console (web role), with the
// tenant pages over the same services as the portal's (Verify
// configuration, a user's live presence at Microsoft). "Authorize now" is
// not offered there: a monitor's own person signs it in, through its Copy
// URL, which the console's support staff can hand out.
func (a *app) consoleRoutes(base string) (func(chi.Router), error) {
	svc, err := a.onboardingService(base)
	if err != nil {
		return nil, err
	}
	clients, vault, err := a.graphClients(base)
	if err != nil {
		return nil, err
	}
	sso, err := a.consoleSSO(base)
	if err != nil {
		return nil, err
	}
	routes := console.Routes(console.Deps{Store: a.store, Staff: staff.New(a.store, staff.Options{}), Views: tenantview.New(a.store),
		Sessions: console.NewSessions(a.pool, a.ring, a.cfg.Production(), a.logger), Logger: a.logger, SSO: sso,
		Pages: tenantui.Deps{Onboarding: svc, SecretExpiry: a.secretExpiry, AllowLoopbackWebhooks: !a.cfg.Production(),
			Monitors: tenantui.MonitorDeps{PerMonitor: graphapi.MaxPresenceIDs - a.cfg.MonitorHeadroom},
			Admins:   portaladmin.New(a.store, clients.Directory), Verify: a.verifier(base, svc, clients, vault),
			LivePresence: clients.LivePresence}})
	return func(r chi.Router) { r.Route(console.Prefix, routes) }, nil
}

// consoleSSO is the console's single sign-on with the vendor's Microsoft
// tenant (PB_STAFF_OIDC_TENANT), at the registration of
// PB_STAFF_OIDC_CLIENT_ID or else ours; nil when it is not configured.
func (a *app) consoleSSO(base string) (*console.SSO, error) {
	if a.cfg.StaffOIDCTenant == "" {
		return nil, nil
	}
	id, err := identity.New(identity.Options{LoginURL: a.cfg.LoginBaseURL})
	if err != nil {
		return nil, err
	}
	app := identity.App{ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret.Reveal()}
	if a.cfg.StaffOIDCClientID != "" {
		app = identity.App{ClientID: a.cfg.StaffOIDCClientID, ClientSecret: a.cfg.StaffOIDCClientSecret.Reveal()}
	}
	if app.ClientID == "" { // development without graphsim; production's configuration refuses it
		return nil, fmt.Errorf("PB_STAFF_OIDC_TENANT: %w", config.ErrStaffSSOWithoutApp)
	}
	// Staff come back where the console is served: with an admin listener,
	// PB_BASE_URL's /console answers 404.
	return &console.SSO{Identity: id, App: app, RedirectURI: a.cfg.ConsoleBaseURL(base) + console.Prefix + "/callback", Tenant: a.cfg.StaffOIDCTenant}, nil
}
