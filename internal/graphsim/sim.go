// Package graphsim emulates the parts of Microsoft Graph and the Microsoft
// identity platform that Presence Bridge uses, faithfully enough that the
// official clients (golang.org/x/oauth2, msgraph-sdk-go) cannot tell the
// difference: the same endpoints, payloads, error bodies and limits,
// including the unpleasant paths (expired grants, MFA demands, throttling,
// slow notification endpoints). No machine here reaches Microsoft, so the
// product is demoed, tested and benchmarked against it.
//
// Behaviour is copied from Microsoft's documentation as summarised in
// docs/graph.md and docs/identity.md; comments name the section.
package graphsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Options configure a Sim.
type Options struct {
	// BaseURL is where the Sim is reached (no trailing slash). It appears in
	// issuers and discovery documents; SetBaseURL sets it after listening.
	BaseURL string
	Logger  *slog.Logger
	// Clock replaces time.Now, so tests can expire codes and tokens.
	Clock func() time.Time
}

// Sim is one emulated Microsoft cloud: a directory, an identity platform
// and Graph. It is safe for concurrent use.
type Sim struct {
	logger *slog.Logger
	clock  func() time.Time

	mu       sync.RWMutex
	baseURL  atomic.Pointer[string] // read under s.mu too, so not guarded by it
	tenants  map[uuid.UUID]*Tenant
	byDomain map[string]*Tenant
	users    map[uuid.UUID]*User
	apps     map[string]*App
	pending  map[string]*authRequest   // sign-in pages in progress
	codes    map[string]*authCode      // issued authorization codes
	refresh  map[string]*refreshRecord // issued refresh tokens

	signer        *signer
	authenticated authCache
	faults        *faults
	throttle      *throttler
	tokenStats    *tokenStats
	presence      *presenceBook
	notify        *notifier
	// presencesRead counts the users' presences getPresencesByUserId
	// answered (Coverage): a load run sees a product's re-read end.
	presencesRead atomic.Int64
	// readAt is when getPresencesByUserId last answered each user's
	// presence (PresenceReadAt) for users with no presence entry yet; the
	// others' is in their entry (userPresence.readAt). A scenario tells
	// that a product re-read a user, whether or not the read found
	// anything new. Unix nanoseconds, not time.Time: a load run's cold
	// start reads a million users before any changes, and a map without
	// pointers is ~40 % smaller and never scanned by the collector.
	readMu sync.Mutex
	readAt map[uuid.UUID]int64

	advancedMu sync.Mutex
	advanced   time.Duration // let pass by Advance
}

// New returns an empty Sim; seed it with Apply.
func New(opts Options) *Sim {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("graphsim: generate signing key: %v", err)) // crypto/rand does not fail
	}
	s := &Sim{
		logger:     opts.Logger,
		clock:      opts.Clock,
		tenants:    map[uuid.UUID]*Tenant{},
		byDomain:   map[string]*Tenant{},
		users:      map[uuid.UUID]*User{},
		apps:       map[string]*App{},
		pending:    map[string]*authRequest{},
		codes:      map[string]*authCode{},
		refresh:    map[string]*refreshRecord{},
		signer:     newSigner(key),
		faults:     newFaults(),
		throttle:   newThrottler(),
		tokenStats: newTokenStats(),
	}
	s.presence = newPresenceBook()
	s.notify = newNotifier(s)
	s.SetBaseURL(opts.BaseURL)
	return s
}

// SetBaseURL records where the Sim is reached, once it listens.
func (s *Sim) SetBaseURL(u string) {
	u = strings.TrimSuffix(u, "/")
	s.baseURL.Store(&u)
}

// BaseURL is where the Sim is reached.
func (s *Sim) BaseURL() string {
	if u := s.baseURL.Load(); u != nil {
		return *u
	}
	return ""
}

// Handler serves the identity platform, Graph and the control API.
func (s *Sim) Handler() http.Handler {
	r := chi.NewRouter()
	s.identityRoutes(r)
	s.graphRoutes(r)
	s.controlRoutes(r)
	return r
}

// Start listens on addr (port 0 picks a free one), serves the Sim until
// ctx ends, and returns its base URL.
func (s *Sim) Start(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("graphsim: listen on %s: %w", addr, err)
	}
	base := "http://" + ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		base = fmt.Sprintf("http://127.0.0.1:%d", tcp.Port)
	}
	s.SetBaseURL(base)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go s.Run(ctx)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return base, nil
}

// Apply adds a seed's app registration, tenants and accounts. Applying the
// same seed twice is an error for the accounts already present.
func (s *Sim) Apply(seed Seed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if seed.App.ClientID != "" {
		app, ok := s.apps[seed.App.ClientID]
		if !ok {
			app = &App{ClientID: seed.App.ClientID, MultiTenant: true, DisplayName: seed.App.DisplayName,
				Delegated: seed.App.Delegated, Application: seed.App.Application, GroupMembershipClaims: seed.App.GroupMembershipClaims}
			if app.Delegated == nil {
				app.Delegated = DefaultDelegated
			}
			if app.Application == nil {
				app.Application = DefaultApplication
			}
			if app.DisplayName == "" {
				app.DisplayName = "Presence Bridge"
			}
			s.apps[app.ClientID] = app
		}
		if seed.App.ClientSecret != "" && !slices.ContainsFunc(app.Secrets, func(x AppSecret) bool { return x.Value == seed.App.ClientSecret }) {
			exp := now.AddDate(2, 0, 0)
			if seed.App.SecretExpires != nil {
				exp = *seed.App.SecretExpires
			}
			app.Secrets = append(app.Secrets, AppSecret{KeyID: uuid.New(), Value: seed.App.ClientSecret, Expires: exp})
		}
		for _, u := range seed.App.RedirectURIs {
			if !slices.Contains(app.RedirectURIs, u) {
				app.RedirectURIs = append(app.RedirectURIs, u)
			}
		}
	}
	for _, st := range seed.Tenants {
		if st.ID == uuid.Nil || st.Domain == "" {
			return errors.New("a seed tenant needs an id and a domain")
		}
		t, ok := s.tenants[st.ID]
		if !ok {
			if _, taken := s.byDomain[strings.ToLower(st.Domain)]; taken {
				return fmt.Errorf("domain %s is already used by another tenant", st.Domain)
			}
			t = &Tenant{ID: st.ID, Domain: st.Domain, DisplayName: st.Name,
				users: map[uuid.UUID]*User{}, byUPN: map[string]*User{}, grants: map[string]*Grant{}}
			s.tenants[t.ID] = t
			s.byDomain[strings.ToLower(t.Domain)] = t
		}
		accounts := append([]SeedUser{}, st.Users...)
		accounts = append(accounts, st.Monitors...)
		if st.Admin.UPN != "" {
			accounts = append(accounts, st.Admin)
		}
		for _, su := range accounts {
			if err := s.addUserLocked(t, su, su.UPN == st.Admin.UPN && st.Admin.UPN != ""); err != nil {
				return err
			}
		}
		if err := s.applyGroupsLocked(t, st); err != nil {
			return err
		}
		if st.Consented && seed.App.ClientID != "" {
			s.grantLocked(t, s.apps[seed.App.ClientID], now)
		}
	}
	return nil
}

// HasTenant reports whether the directory holds tenant id (one a seed
// applied, or a snapshot restored).
func (s *Sim) HasTenant(id uuid.UUID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[id] != nil
}

func (s *Sim) addUserLocked(t *Tenant, su SeedUser, admin bool) error {
	if su.ID == uuid.Nil {
		su.ID = uuid.New()
	}
	if !strings.HasSuffix(strings.ToLower(su.UPN), "@"+strings.ToLower(t.Domain)) {
		return fmt.Errorf("user %s is not in the tenant's domain %s", su.UPN, t.Domain)
	}
	if _, dup := s.users[su.ID]; dup {
		return fmt.Errorf("user id %s already exists", su.ID)
	}
	if _, dup := t.byUPN[strings.ToLower(su.UPN)]; dup {
		return fmt.Errorf("user %s already exists", su.UPN)
	}
	name := su.DisplayName
	if name == "" {
		name = su.UPN
	}
	u := &User{ID: su.ID, TenantID: t.ID, UPN: su.UPN, Mail: su.UPN, DisplayName: name, Password: su.Password,
		MFARequired: su.MFARequired, Enabled: !su.Disabled, Guest: su.Guest, Admin: admin}
	if su.Guest {
		u.Mail = guestMail(su.UPN)
	}
	if admin {
		u.Roles = []string{RoleGlobalAdministrator}
	}
	s.users[u.ID] = u
	t.users[u.ID] = u
	t.byUPN[strings.ToLower(u.UPN)] = u
	return nil
}

// guestMail is a guest's home address from its UPN, as Entra forms one
// (alice_fabrikam.com#EXT#@contoso.com: alice@fabrikam.com).
func guestMail(upn string) string {
	home, _, ok := strings.Cut(upn, "#EXT#")
	if i := strings.LastIndex(home, "_"); ok && i > 0 {
		return home[:i] + "@" + home[i+1:]
	}
	return upn
}

// grantLocked records admin consent: the app's service principal in t with
// every permission the registration requires (what /.default consents to).
func (s *Sim) grantLocked(t *Tenant, app *App, now time.Time) {
	var scopes []string
	for _, p := range app.Delegated {
		if !isOIDCScope(p) {
			scopes = append(scopes, p)
		}
	}
	t.grants[app.ClientID] = &Grant{ClientID: app.ClientID, Scopes: scopes, Roles: slices.Clone(app.Application), GrantedAt: now}
}

// tenantLocked resolves a {tenant} path segment: a tenant id or a verified
// domain. common and organizations resolve to nil with ok true.
func (s *Sim) tenantLocked(seg string) (t *Tenant, multi bool, ok bool) {
	switch strings.ToLower(seg) {
	case "common", "organizations":
		return nil, true, true
	}
	if id, err := uuid.Parse(seg); err == nil {
		t, ok = s.tenants[id]
		return t, false, ok
	}
	t, ok = s.byDomain[strings.ToLower(seg)]
	return t, false, ok
}

// userByUPNLocked finds an account by UPN in any tenant.
func (s *Sim) userByUPNLocked(upn string) *User {
	_, domain, ok := strings.Cut(strings.ToLower(upn), "@")
	if !ok {
		return nil
	}
	t := s.byDomain[domain]
	if t == nil {
		return nil
	}
	return t.byUPN[strings.ToLower(upn)]
}

func isOIDCScope(s string) bool {
	switch s {
	case "openid", "profile", "email", "offline_access":
		return true
	}
	return false
}

// Run drives the Sim's background work until ctx ends: presence idles and
// expiries once a second, and notification delivery. Start runs it; tests
// that serve Handler themselves call it.
func (s *Sim) Run(ctx context.Context) {
	go s.notify.run(ctx)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.TickPresence()
		}
	}
}
