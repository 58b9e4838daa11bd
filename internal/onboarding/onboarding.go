// Package onboarding takes a customer from an invitation link to an active
// tenant: the form, admin consent for our multi-tenant app (confirmed
// independently with an app-only token), presence-monitor sign-in
// ("Authorize now", "Copy URL", or optionally a password used once), and
// completion. It holds the rules; web/onboarding holds the pages.
//
// Every change that matters (consent, monitors added, authorized, deleted,
// completion) is written with its audit-log entry in one transaction.
package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/links"
	"presencebridge/internal/roster"
	"presencebridge/internal/shard"
	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
)

// UsersPerMonitor is how many users one monitor's subscription covers
// (Graph's limit of ids per presence subscription).
const UsersPerMonitor = graphapi.MaxPresenceIDs

// Link lifetimes.
const (
	DefaultInviteTTL = 7 * 24 * time.Hour
	MonitorLinkTTL   = 72 * time.Hour
)

// Link purposes (internal/links).
const (
	linkInvite  = "onboarding-invite"
	linkMonitor = "monitor-signin"
)

// Config is the deployment's side of onboarding.
type Config struct {
	// App is our multi-tenant app registration.
	App identity.App
	// BaseURL is the product's public URL; redirect URIs and links start
	// with it.
	BaseURL string
	// RequiredRoles are the application permissions our registration
	// lists, so admin consent grants them (default DefaultRequiredRoles).
	RequiredRoles []string
	// OptionalRoles are those of RequiredRoles a consent may lack and
	// onboarding still complete (default DefaultOptionalRoles; empty, not
	// nil, for none): what they allow is not needed to monitor presence,
	// and the engine alerts the tenant while they are missing.
	OptionalRoles []string
	// AllowLoopbackWebhooks accepts http://127.0.0.1 targets (tests, dev).
	AllowLoopbackWebhooks bool
}

// DefaultRequiredRoles are the application permissions our app asks for:
// reading users, groups and presence, and writing presence back into
// Teams.
var DefaultRequiredRoles = []string{"User.Read.All", "Presence.Read.All", "GroupMember.Read.All", identity.WriteBackRole}

// DefaultOptionalRoles are the required roles onboarding completes
// without: write-back. Monitoring presence does not need it, and a tenant
// that consented before our registration listed it must be able to run
// consent again without being refused; the engine alerts it until the
// role is granted, and the tenant API's presence writes answer 409.
var DefaultOptionalRoles = []string{identity.WriteBackRole}

// Service runs onboarding.
type Service struct {
	st     *store.Store
	roster *roster.Roster
	id     *identity.Client
	links  *links.Signer
	views  *tenantview.Reader
	cfg    Config
}

// New returns a Service.
func New(st *store.Store, id *identity.Client, l *links.Signer, cfg Config) *Service {
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.RequiredRoles == nil {
		cfg.RequiredRoles = DefaultRequiredRoles
	}
	if cfg.OptionalRoles == nil {
		cfg.OptionalRoles = DefaultOptionalRoles
	}
	return &Service{st: st, roster: roster.New(st), id: id, links: l, views: tenantview.New(st), cfg: cfg}
}

// Problem is a step that did not succeed, told to the person: what
// happened and what to do next. Pages show both.
type Problem struct {
	Title  string
	Detail string
}

func (p *Problem) Error() string { return p.Title + " " + p.Detail }

// Errors for links.
var (
	ErrLinkInvalid = &Problem{"This link is not valid.", "Check that you copied the whole link, or ask for a new one."}
	ErrLinkExpired = &Problem{"This link has expired.", "Ask your Presence Bridge contact (or the admin who sent it) for a new one."}
	ErrLinkRevoked = &Problem{"This link was withdrawn.", "Ask your Presence Bridge contact for a new one."}
)

// ConsentRedirectURI and MonitorRedirectURI must be registered, exactly,
// on the app registration.
func (s *Service) ConsentRedirectURI() string { return s.cfg.BaseURL + "/onboarding/consent/callback" }

// MonitorRedirectURI is where monitor sign-ins return.
func (s *Service) MonitorRedirectURI() string { return s.cfg.BaseURL + "/onboarding/monitors/callback" }

func (s *Service) tx(ctx context.Context, fn func(store.Tx) error) error {
	return s.st.InTx(ctx, fn)
}

// --- invitations -----------------------------------------------------------

type invitePayload struct {
	Invite uuid.UUID `json:"i"`
}

// CreateInvite creates a tenant in onboarding and an invitation link for it,
// valid for ttl (DefaultInviteTTL when 0; CheckInviteTTL's bounds).
func (s *Service) CreateInvite(ctx context.Context, name, createdBy string, ttl time.Duration) (store.Tenant, string, error) {
	if strings.TrimSpace(name) == "" {
		return store.Tenant{}, "", errors.New("a tenant name is required")
	}
	if !store.Storable(name) {
		return store.Tenant{}, "", fmt.Errorf("the tenant name: %s", store.NotText)
	}
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if err := CheckInviteTTL(ttl); err != nil {
		return store.Tenant{}, "", err
	}
	var t store.Tenant
	var link string
	err := s.tx(ctx, func(tx store.Tx) error {
		var err error
		if t, err = tx.CreateTenant(ctx, strings.TrimSpace(name), time.Now().Add(ttl)); err != nil {
			return err
		}
		link, err = s.issueInvite(ctx, tx, t.ID, createdBy, ttl, nil)
		return err
	})
	return t, link, err
}

// issueInvite makes an invitation of the tenant and its link, audited as
// createdBy with detail's entries beside the invitation's own, in tx.
func (s *Service) issueInvite(ctx context.Context, tx store.Tx, tenantID uuid.UUID, createdBy string, ttl time.Duration,
	detail map[string]any) (string, error) {
	exp := time.Now().Add(ttl)
	inv, err := tx.CreateInvite(ctx, tenantID, createdBy, exp)
	if err != nil {
		return "", err
	}
	tok, err := s.links.Make(linkInvite, invitePayload{inv.ID}, ttl)
	if err != nil {
		return "", err
	}
	// `keys rotate` keeps the key until the link expires (store.LiveLinkKeys).
	if err := tx.RecordInviteKey(ctx, inv.ID, s.links.ActiveKey()); err != nil {
		return "", err
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["invite"], detail["expires"] = inv.ID, exp
	if err := tx.Audit(ctx, &tenantID, createdBy, "invite.created", detail); err != nil {
		return "", err
	}
	return s.cfg.BaseURL + "/onboarding/i/" + tok, nil
}

// OpenInvite checks an invitation token (Invitation) and returns its
// tenant. The pages let a person in only after Accept; this is for
// onboarding done on the admin's behalf (dev's demo, tests).
func (s *Service) OpenInvite(ctx context.Context, token string) (uuid.UUID, error) {
	inv, err := s.Invitation(ctx, token)
	return inv.TenantID, err
}

func linkProblem(err error) error {
	if errors.Is(err, links.ErrExpired) {
		return ErrLinkExpired
	}
	return ErrLinkInvalid
}

// --- the form --------------------------------------------------------------

// Form returns the form as last entered (prefilled from the tenant).
func (s *Service) Form(ctx context.Context, tenantID uuid.UUID) (Form, error) {
	o, err := s.st.GetOnboarding(ctx, tenantID)
	if err != nil {
		return Form{}, err
	}
	var f Form
	if len(o.Form) > 0 {
		if err := json.Unmarshal(o.Form, &f); err != nil {
			return Form{}, err
		}
	}
	if f.Company == "" {
		t, err := s.st.GetTenant(ctx, tenantID)
		if err != nil {
			return Form{}, err
		}
		f.Company = t.Name
	}
	return f, nil
}

// SaveForm validates and stores the form. With field errors the form is
// still stored as entered (nothing typed is lost) but the tenant and
// roster are not changed — unless a field holds what the database cannot
// (unstorable): then nothing is stored, and the page keeps what was typed.
func (s *Service) SaveForm(ctx context.Context, tenantID uuid.UUID, f Form, actor string) (FieldErrors, error) {
	if fe := f.unstorable(); fe != nil {
		return fe, nil
	}
	choice, fe := f.validate(s.cfg.AllowLoopbackWebhooks)
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if fe == nil && t.MSTenantID != nil && t.MSDomain != "" && f.MicrosoftTenant != t.MSDomain && f.MicrosoftTenant != t.MSTenantID.String() {
		fe = FieldErrors{"microsoftTenant": fmt.Sprintf("Consent was already granted for %s. To connect another Microsoft tenant, ask for a new invitation.", t.MSDomain)}
	}
	err = s.tx(ctx, func(tx store.Tx) error {
		if err := tx.SaveOnboardingForm(ctx, tenantID, f); err != nil {
			return err
		}
		if fe != nil {
			return nil
		}
		if err := tx.UpdateTenantDetails(ctx, tenantID, store.TenantDetails{Name: f.Company, MSDomain: f.MicrosoftTenant,
			TelephonyAccountID: f.TelephonyAccount, AdminEmail: f.AdminEmail}); err != nil {
			return err
		}
		if _, err := s.roster.Choose(ctx, tx, tenantID, choice); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "form.saved", map[string]any{"users": len(choice.Entries), "usersSource": f.UsersSource,
			"microsoftTenant": f.MicrosoftTenant, "eventTarget": f.EventTarget})
	})
	return fe, err
}

// --- status ----------------------------------------------------------------

// Status is everything the onboarding page shows.
type Status struct {
	Tenant         store.Tenant
	Onboarding     store.Onboarding
	Form           Form
	FormSaved      bool
	Users          int              // roster entries, looked up or not
	UserCounts     store.UserCounts // monitored, unresolved… once looked up
	Monitors       []store.Monitor
	MonitorsNeeded int
	Authorized     int
	CanComplete    bool
	Completed      bool
}

// MonitorsNeeded is how many monitors a roster needs: one per 650 users,
// plus one spare so a failing monitor's users have somewhere to go.
func MonitorsNeeded(users int) int { return shard.MonitorsNeeded(users, UsersPerMonitor) }

// Status reads a tenant's onboarding state.
func (s *Service) Status(ctx context.Context, tenantID uuid.UUID) (Status, error) {
	var st Status
	var err error
	if st.Tenant, err = s.st.GetTenant(ctx, tenantID); err != nil {
		return st, err
	}
	if st.Onboarding, err = s.st.GetOnboarding(ctx, tenantID); err != nil {
		return st, err
	}
	if st.Form, err = s.Form(ctx, tenantID); err != nil {
		return st, err
	}
	st.FormSaved = st.Tenant.MSDomain != ""
	if st.Users, err = s.st.RosterCount(ctx, tenantID); err != nil {
		return st, err
	}
	if st.UserCounts, err = s.st.UserCountsOf(ctx, tenantID); err != nil {
		return st, err
	}
	if st.Monitors, err = s.st.Monitors(ctx, tenantID); err != nil {
		return st, err
	}
	// A roster holds one user at least (the form requires a list or a
	// group, whose members are counted only once the engine reads it,
	// after completion): before that, the count asks for the least any
	// roster needs, not for the spare alone.
	st.MonitorsNeeded = MonitorsNeeded(max(st.Users, 1))
	for _, m := range st.Monitors {
		if m.Status == store.MonitorAuthorized {
			st.Authorized++
		}
	}
	st.Completed = st.Onboarding.CompletedAt != nil
	st.CanComplete = st.Onboarding.ConsentStatus == "granted" && st.Authorized >= st.MonitorsNeeded
	return st, nil
}

// --- step 1: consent -------------------------------------------------------

// ConsentURL is where the admin grants consent; state must be single use
// and bound to the admin's browser session (the web layer keeps it).
func (s *Service) ConsentURL(ctx context.Context, tenantID uuid.UUID, state string) (string, error) {
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return "", err
	}
	if t.MSDomain == "" {
		return "", &Problem{"Fill in the form first.", "Presence Bridge needs your Microsoft tenant before it can ask for consent."}
	}
	if s.cfg.App.ClientID == "" {
		return "", &Problem{"Onboarding is not configured.", "This deployment has no Microsoft app registration (PB_MS_CLIENT_ID); contact Presence Bridge support."}
	}
	return s.id.AdminConsentURL(s.cfg.App, t.MSDomain, s.ConsentRedirectURI(), state), nil
}

// FinishConsent handles the admin-consent redirect (its state already
// checked by the caller). The tenant it names is not trusted: consent is
// confirmed with an app-only token for the tenant the form declared, which
// must be the tenant the redirect named and carry the required roles; an
// optional one missing (write-back, for a tenant that consented before we
// asked for it) does not stop onboarding.
func (s *Service) FinishConsent(ctx context.Context, tenantID uuid.UUID, q url.Values, actor string) error {
	res := identity.ParseConsentCallback(q)
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return err
	}
	fail := func(p *Problem, detail map[string]any) error {
		err := s.tx(ctx, func(tx store.Tx) error {
			if err := tx.ConsentFailed(ctx, tenantID, p.Title+" "+p.Detail); err != nil {
				return err
			}
			return tx.Audit(ctx, &tenantID, actor, "consent.failed", detail)
		})
		if err != nil {
			return err
		}
		return p
	}
	if !res.Granted {
		if res.Declined() {
			return fail(&Problem{"Consent was declined.", "Presence Bridge cannot read presence without it. Press Authorize again and choose Accept, as a Global Administrator (or Privileged Role Administrator) of " + t.MSDomain + "."},
				map[string]any{"error": res.Error})
		}
		return fail(&Problem{"Microsoft did not grant consent.", firstLine(res.ErrorDescription) + " Try again, or contact support with this message."},
			map[string]any{"error": res.Error, "description": firstLine(res.ErrorDescription)})
	}
	at, err := s.id.ConfirmConsent(ctx, s.cfg.App, t.MSDomain, s.mustGrant())
	switch {
	case errors.Is(err, identity.ErrConsentIncomplete):
		return fail(&Problem{"Consent is missing permissions.", strings.TrimPrefix(err.Error(), identity.ErrConsentIncomplete.Error()+": ") +
			" were not granted. Press Authorize again and accept every permission."}, map[string]any{"error": err.Error()})
	case identity.ClassOf(err) == identity.Transient && err != nil:
		return &Problem{"Microsoft's sign-in service did not answer.", "Your consent may have been recorded; press Authorize again in a minute."}
	case err != nil:
		return fail(&Problem{"Consent could not be confirmed for " + t.MSDomain + ".", "Make sure the administrator who consents belongs to " + t.MSDomain + ", then press Authorize again."},
			map[string]any{"error": err.Error()})
	}
	if !strings.EqualFold(res.Tenant, at.TenantID.String()) {
		return fail(&Problem{"Consent was granted for a different Microsoft tenant.", "The form names " + t.MSDomain + ", but the administrator signed in to another tenant. Sign in with an administrator account of " + t.MSDomain + " and press Authorize again."},
			map[string]any{"declared": t.MSDomain, "returned": res.Tenant})
	}
	err = s.tx(ctx, func(tx store.Tx) error {
		if err := tx.ConsentGranted(ctx, tenantID, at.TenantID); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "consent.granted", map[string]any{"microsoftTenant": at.TenantID, "roles": at.Roles,
			"notGranted": s.notGranted(at.Roles)})
	})
	if errors.Is(err, store.ErrMicrosoftTenantTaken) {
		return fail(&Problem{"This Microsoft tenant is already connected.", "Another Presence Bridge account uses " + t.MSDomain + ". Contact support to move it."}, map[string]any{"error": "taken"})
	}
	return err
}

// ConsentRoles are the application permissions a consent must grant and
// those it may lack (what they allow only is off while they are missing):
// what onboarding's consent check and Verify configuration hold a tenant to.
func (s *Service) ConsentRoles() (must, optional []string) {
	return s.mustGrant(), slices.Clone(s.cfg.OptionalRoles)
}

// mustGrant are the required roles a consent is refused without: all but
// the optional ones.
func (s *Service) mustGrant() []string {
	return slices.DeleteFunc(slices.Clone(s.cfg.RequiredRoles), func(r string) bool { return hasRole(s.cfg.OptionalRoles, r) })
}

// notGranted are the optional roles a consent lacks, for the audit log
// (the engine's alert tells the tenant).
func (s *Service) notGranted(granted []string) []string {
	missing := []string{}
	for _, r := range s.cfg.OptionalRoles {
		if hasRole(s.cfg.RequiredRoles, r) && !hasRole(granted, r) {
			missing = append(missing, r)
		}
	}
	return missing
}

// hasRole compares case-insensitively, as identity.ConfirmConsent does.
func hasRole(roles []string, r string) bool {
	return slices.ContainsFunc(roles, func(x string) bool { return strings.EqualFold(x, r) })
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\r\n")
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
