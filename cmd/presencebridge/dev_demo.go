package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/config"
	"presencebridge/internal/graphsim"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/simadmin"
	"presencebridge/internal/staff"
	"presencebridge/internal/store"
)

// What `dev` prepares so that a reader can call the API at once: graphsim's
// first tenant onboarded as its administrator would do it (form, admin
// consent, each monitor signed in, complete: the onboarding service the
// pages call, never rows written directly), with its webhook at dev's
// receiver, an API key with every scope, and an invitation for graphsim's
// second tenant. A run finds what an earlier run made and reuses it.
//
// The API key is kept in PB_DATA_DIR/dev-demo.json (mode 0600, beside the
// seal key file, which guards more) and reused while it authenticates:
// keys are stored hashed, so a key not kept could not be shown again, and
// a new key each run would leave the README's curl commands, pasted once,
// failing after every restart and a key row behind each run. The
// invitation is kept there too and printed again while it is valid and
// its tenant still onboarding: a fresh one each run would leave a tenant
// in onboarding behind each run. So is the password of the support
// console's demo admin (devStaff), printed each run while its account
// exists: the console stores only its hash.
const (
	devDemoFile  = "dev-demo.json"
	devDemoActor = "staff:presencebridge-dev"
	devStaff     = "admin@presencebridge.example"
)

// demoState is dev-demo.json.
type demoState struct {
	APIKey        string      `json:"apiKey,omitempty"`
	Invitation    *invitation `json:"invitation,omitempty"`
	StaffPassword string      `json:"staffPassword,omitempty"`
}

type invitation struct {
	Link    string    `json:"link"`
	Tenant  uuid.UUID `json:"tenant"`
	Expires time.Time `json:"expires"`
}

// demo is the prepared demo, as dev prints it.
type demo struct {
	tenant     store.Tenant
	users      int
	monitors   int
	apiKey     string
	webhook    string
	secret     string // the webhook's signing secret, for dev's receiver
	invitation invitation
	invited    graphsim.SeedTenant
	adele      graphsim.SeedUser
	staff      string // devStaff's password
	kept       string // the file the key, invitation and password are kept in
}

// prepareDemo makes (or finds) the demo tenant, its webhook at dev's
// receiver, its API key and the second tenant's invitation, on the
// product at base.
// It works as an admin command does, on a connection of its own.
func prepareDemo(ctx context.Context, cfg *config.Config, base string, gs *devGraphsim, webhook string) (demo, error) {
	a, err := openApp(ctx, cfg, "dev", sharedServer)
	if err != nil {
		return demo{}, err
	}
	defer a.Close()
	svc, err := a.onboardingService(base)
	if err != nil {
		return demo{}, err
	}
	ten := gs.seed.Tenants[0]
	d := demo{invited: gs.seed.Tenants[1], adele: ten.Users[0], kept: filepath.Join(cfg.DataDir, devDemoFile)}
	if d.tenant, err = demoTenant(ctx, a, svc, ten, webhook, !gs.restored); err != nil {
		return d, fmt.Errorf("demo tenant: %w", err)
	}
	st, err := svc.Status(ctx, d.tenant.ID)
	if err != nil {
		return d, err
	}
	d.users, d.monitors = st.Users, st.Authorized
	if d.webhook, d.secret, err = demoWebhook(ctx, a, svc, d.tenant, webhook); err != nil {
		return d, fmt.Errorf("demo webhook: %w", err)
	}
	state := readDemoState(d.kept)
	if d.apiKey, err = demoKey(ctx, a, svc, d.tenant, state.APIKey); err != nil {
		return d, fmt.Errorf("demo API key: %w", err)
	}
	if d.invitation, err = demoInvitation(ctx, a, svc, d.invited, state.Invitation); err != nil {
		return d, fmt.Errorf("invitation: %w", err)
	}
	if d.staff, err = demoStaff(ctx, a, state.StaffPassword); err != nil {
		return d, fmt.Errorf("demo staff account: %w", err)
	}
	state = demoState{APIKey: d.apiKey, Invitation: &d.invitation, StaffPassword: d.staff}
	b, _ := json.MarshalIndent(state, "", "  ")
	if err := os.WriteFile(d.kept, append(b, '\n'), 0o600); err != nil {
		return d, fmt.Errorf("keep the demo's API key: %w", err)
	}
	return d, nil
}

// demoTenant returns the tenant connected to ten, onboarding it first
// when no tenant is. again redoes consent and the monitors' sign-ins of a
// tenant already onboarded: graphsim started afresh and knows neither.
func demoTenant(ctx context.Context, a *app, svc *onboarding.Service, ten graphsim.SeedTenant, webhook string, again bool) (store.Tenant, error) {
	t, err := a.store.TenantByMicrosoftTenant(ctx, ten.ID)
	switch {
	case errors.Is(err, store.ErrTenantNotFound):
		_, link, err := svc.CreateInvite(ctx, ten.Name, devDemoActor, 0)
		if err != nil {
			return t, err
		}
		if t.ID, err = svc.OpenInvite(ctx, link[strings.LastIndex(link, "/")+1:]); err != nil {
			return t, err
		}
		again = false
	case err != nil:
		return t, err
	}
	var users []string
	for i, u := range ten.Users {
		users = append(users, fmt.Sprintf("%s,%d", u.UPN, 201+i)) // their extensions on the telephony platform
	}
	f := onboarding.Form{Company: ten.Name, MicrosoftTenant: ten.Domain, AdminEmail: ten.Admin.UPN, TelephonyAccount: "demo",
		Users: strings.Join(users, "\n"), EventTarget: "webhook", WebhookURL: webhook}
	if err := simadmin.Onboard(ctx, svc, t.ID, ten, f, again); err != nil {
		return t, err
	}
	return a.store.GetTenant(ctx, t.ID)
}

// demoWebhook points the demo tenant's webhook at dev's receiver (url),
// moving it when the receiver took another port than last run's, and
// returns it with its signing secret.
func demoWebhook(ctx context.Context, a *app, svc *onboarding.Service, t store.Tenant, url string) (string, string, error) {
	eps, err := a.store.Endpoints(ctx, t.ID)
	if err != nil {
		return "", "", err
	}
	var ep *store.Endpoint
	for i, e := range eps {
		if e.URL == url || (ep == nil && strings.HasPrefix(e.URL, "http://127.0.0.1:") && strings.HasSuffix(e.URL, devReceiverPath)) {
			ep = &eps[i]
		}
	}
	if ep == nil {
		return "", "", errors.New("the demo tenant has no webhook at dev's receiver")
	}
	if ep.URL != url {
		err := a.store.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.UpdateEndpoint(ctx, t.ID, ep.ID, url, ep.Description); err != nil {
				return err
			}
			return tx.Audit(ctx, &t.ID, devDemoActor, "endpoint.updated", map[string]any{"endpoint": ep.ID, "host": strings.TrimPrefix(url, "http://")})
		})
		if err != nil {
			return "", "", err
		}
	}
	secret, err := svc.SigningSecret(ctx, t.ID, url, devDemoActor)
	return url, secret, err
}

// demoKey returns kept, the key an earlier run made, while it still
// authenticates as the demo tenant's, else a new key with every scope.
func demoKey(ctx context.Context, a *app, svc *onboarding.Service, t store.Tenant, kept string) (string, error) {
	if kept != "" {
		k, err := a.store.AuthenticateAPIKey(ctx, kept)
		if err == nil && k.TenantID == t.ID && k.Has(store.ScopeAdmin) {
			return kept, nil
		}
		if err != nil && !errors.Is(err, store.ErrBadAPIKey) {
			return "", err
		}
	}
	return svc.NewAPIKey(ctx, t.ID, "dev demo", devDemoActor)
}

// demoInvitation returns kept while it is valid for another day and its
// tenant is still onboarding, else a new invitation for ten.
func demoInvitation(ctx context.Context, a *app, svc *onboarding.Service, ten graphsim.SeedTenant, kept *invitation) (invitation, error) {
	if kept != nil && time.Until(kept.Expires) > 24*time.Hour {
		t, err := a.store.GetTenant(ctx, kept.Tenant)
		if err == nil && t.Status == store.TenantOnboarding {
			return *kept, nil
		}
		if err != nil && !errors.Is(err, store.ErrTenantNotFound) {
			return invitation{}, err
		}
	}
	t, link, err := svc.CreateInvite(ctx, ten.Name, devDemoActor, onboarding.DefaultInviteTTL)
	if err != nil {
		return invitation{}, err
	}
	return invitation{Link: link, Tenant: t.ID, Expires: time.Now().Add(onboarding.DefaultInviteTTL)}, nil
}

// demoStaff returns the password of devStaff, an admin of the support
// console: kept, the one an earlier run made, while the account exists;
// else a new one, the account made (or given it, when the password kept
// was lost).
func demoStaff(ctx context.Context, a *app, kept string) (string, error) {
	svc := staff.New(a.store, staff.Options{})
	_, err := a.store.StaffByEmail(ctx, devStaff)
	switch {
	case err == nil && kept != "":
		return kept, nil
	case err == nil:
		password := staff.GeneratePassword()
		_, err := svc.SetPassword(ctx, devStaff, password, devDemoActor)
		return password, err
	case errors.Is(err, store.ErrStaffNotFound):
		password := staff.GeneratePassword()
		_, err := svc.Add(ctx, devStaff, "Demo admin", staff.Admin, password, devDemoActor)
		return password, err
	}
	return "", err
}

// readDemoState reads dev-demo.json; a missing or unreadable file is an
// empty state (a new key and invitation are made).
func readDemoState(path string) demoState {
	var st demoState
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	return st
}

// print shows the demo: what to call and where events appear.
func (d demo) print(w io.Writer, base string, gs *devGraphsim) {
	fmt.Fprintf(w, "Demo tenant      %s (%s): onboarded, %d users monitored by %d monitors\n", d.tenant.Name, d.tenant.MSDomain, d.users, d.monitors)
	fmt.Fprintf(w, "  API key        %s  (every scope; kept in %s)\n", d.apiKey, d.kept)
	fmt.Fprintf(w, "  webhook        %s  (dev's receiver: one \"event\" line below per delivery)\n", d.webhook)
	fmt.Fprintf(w, "Second tenant    %s (%s), not connected: open the invitation, sign in as its admin\n", d.invited.Name, d.invited.Domain)
	fmt.Fprintf(w, "  invitation     %s  (until %s)\n", d.invitation.Link, d.invitation.Expires.Format(time.DateOnly))
	fmt.Fprintf(w, "  admin sign-in  %s  %s\n", d.invited.Admin.UPN, d.invited.Admin.Password)
	for _, m := range d.invited.Monitors {
		fmt.Fprintf(w, "  monitor        %s  %s\n", m.UPN, m.Password)
	}
	fmt.Fprintf(w, "Support console  %s/console/  (vendor staff: every tenant, user lookup, staff accounts)\n", base)
	fmt.Fprintf(w, "  staff sign-in  %s  %s  (admin; kept in %s)\n", devStaff, d.staff, d.kept)
	fmt.Fprintf(w, "Try it:\n")
	fmt.Fprintf(w, "  curl -H 'Authorization: Bearer %s' %s/api/v1/api-keys\n", d.apiKey, base)
	fmt.Fprintf(w, "  curl -N -H 'Authorization: Bearer %s' %s/api/v1/events\n", d.apiKey, base)
	fmt.Fprintf(w, "  curl -X POST -d '{\"availability\": \"Busy\", \"activity\": \"InACall\"}' %s/_sim/users/%s/presence   (%s joins a call)\n",
		gs.base, d.adele.ID, d.adele.DisplayName)
}
