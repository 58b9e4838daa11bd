package onboarding

import (
	"context"
	"errors"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/apikeys"
	"presencebridge/internal/deliver"
	"presencebridge/internal/english"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// --- step 2: presence monitors --------------------------------------------

// AddMonitor records a monitor account to authorize.
func (s *Service) AddMonitor(ctx context.Context, tenantID uuid.UUID, upn, actor string) (store.Monitor, error) {
	upn = strings.TrimSpace(upn)
	if a, err := mail.ParseAddress(upn); err != nil || a.Address != upn {
		return store.Monitor{}, FieldErrors{"upn": "Enter the monitor account's user name, such as presence-monitor-1@contoso.com."}
	}
	ms, err := s.st.Monitors(ctx, tenantID)
	if err != nil {
		return store.Monitor{}, err
	}
	for _, m := range ms {
		if strings.EqualFold(m.UPN, upn) {
			return store.Monitor{}, FieldErrors{"upn": upn + " is already a monitor."}
		}
	}
	var m store.Monitor
	err = s.tx(ctx, func(tx store.Tx) error {
		if m, err = tx.AddMonitor(ctx, tenantID, upn); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "monitor.added", map[string]any{"monitor": m.ID, "upn": upn})
	})
	return m, err
}

// StartMonitorSignIn begins "Authorize now" for a monitor: the browser goes
// to SignIn.URL; keep SignIn (verifier, nonce) with state in the session.
func (s *Service) StartMonitorSignIn(ctx context.Context, tenantID, monitorID uuid.UUID, state string) (identity.SignIn, error) {
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return identity.SignIn{}, err
	}
	if t.MSTenantID == nil {
		return identity.SignIn{}, &Problem{"Authorize Presence Bridge first.", "Monitors can sign in once admin consent is granted."}
	}
	m, err := s.st.GetMonitor(ctx, tenantID, monitorID)
	if err != nil {
		return identity.SignIn{}, err
	}
	app, msTenant, err := s.Credentials(ctx, tenantID)
	if err != nil {
		return identity.SignIn{}, err
	}
	return s.id.MonitorSignIn(app, msTenant, s.MonitorRedirectURI(), m.UPN, state), nil
}

// FinishMonitorSignIn redeems the sign-in's code and, if the account that
// signed in is the monitor named, in the declared tenant, seals its tokens.
func (s *Service) FinishMonitorSignIn(ctx context.Context, tenantID, monitorID uuid.UUID, q url.Values, si identity.SignIn, actor string) error {
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return &Problem{"The sign-in was cancelled.", "Press Authorize now again and complete the sign-in with the monitor account."}
		}
		return &Problem{"Microsoft did not complete the sign-in.", firstLine(q.Get("error_description"))}
	}
	t, m, err := s.tenantMonitor(ctx, tenantID, monitorID)
	if err != nil {
		return err
	}
	app, msTenant, err := s.Credentials(ctx, tenantID)
	if err != nil {
		return err
	}
	g, err := s.id.Redeem(ctx, app, msTenant, s.MonitorRedirectURI(), q.Get("code"), si)
	if err != nil {
		return s.signInFailed(ctx, m, signInProblem(err))
	}
	return s.signInFailed(ctx, m, s.authorize(ctx, t, m, g, "code", actor))
}

// PasswordSignIn is "sign in with password once" (off by default per
// tenant): the password obtains a refresh token and is forgotten; it is
// never stored or logged.
func (s *Service) PasswordSignIn(ctx context.Context, tenantID, monitorID uuid.UUID, password, actor string) error {
	t, m, err := s.tenantMonitor(ctx, tenantID, monitorID)
	if err != nil {
		return err
	}
	if !t.AllowPasswordSignIn {
		return &Problem{"Password sign-in is turned off.", "Use Authorize now or Copy URL; your Presence Bridge contact can turn password sign-in on for your tenant."}
	}
	if password == "" {
		return FieldErrors{"password": "Enter the monitor account's password."}
	}
	app, msTenant, err := s.Credentials(ctx, tenantID)
	if err != nil {
		return err
	}
	g, err := s.id.PasswordOnce(ctx, app, msTenant, m.UPN, password)
	if err != nil {
		return s.signInFailed(ctx, m, signInProblem(err))
	}
	return s.signInFailed(ctx, m, s.authorize(ctx, t, m, g, "password", actor))
}

func (s *Service) tenantMonitor(ctx context.Context, tenantID, monitorID uuid.UUID) (store.Tenant, store.Monitor, error) {
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return t, store.Monitor{}, err
	}
	if t.MSTenantID == nil {
		return t, store.Monitor{}, &Problem{"Authorize Presence Bridge first.", "Monitors can sign in once admin consent is granted."}
	}
	m, err := s.st.GetMonitor(ctx, tenantID, monitorID)
	return t, m, err
}

// authorize checks who signed in and stores the grant.
func (s *Service) authorize(ctx context.Context, t store.Tenant, m store.Monitor, g identity.Grant, method, actor string) error {
	switch {
	case g.Account.TenantID != *t.MSTenantID:
		return &Problem{"That account belongs to another Microsoft tenant.", "Sign in with " + m.UPN + ", an account of " + t.MSDomain + "."}
	case !strings.EqualFold(g.Account.Username, m.UPN):
		return &Problem{"You signed in as " + g.Account.Username + ", not as " + m.UPN + ".", "Sign out of Microsoft in this browser (or use a private window) and sign in as " + m.UPN + "."}
	case g.RefreshToken == "":
		return &Problem{"Microsoft gave no lasting sign-in.", "The offline_access permission was not granted; ask your administrator to grant consent again."}
	}
	return s.tx(ctx, func(tx store.Tx) error {
		err := tx.AuthorizeMonitor(ctx, t.ID, m.ID, store.MonitorGrant{ObjectID: g.Account.ObjectID, DisplayName: g.Account.Name,
			Method: method, RefreshToken: g.RefreshToken, AccessToken: g.AccessToken, Expiry: g.Expiry})
		if err != nil {
			return err
		}
		return tx.Audit(ctx, &t.ID, actor, "monitor.authorized", map[string]any{"monitor": m.ID, "upn": m.UPN, "method": method,
			"objectId": g.Account.ObjectID})
	})
}

// signInFailed records on m the Problem its sign-in ended with (the
// monitor was tried: Retry means something now) and returns err.
func (s *Service) signInFailed(ctx context.Context, m store.Monitor, err error) error {
	var p *Problem
	if !errors.As(err, &p) {
		return err
	}
	if rerr := s.st.MonitorSignInFailed(ctx, m.TenantID, m.ID, p.Title+" "+p.Detail); rerr != nil {
		return rerr
	}
	return err
}

// signInProblem explains a failed sign-in to the person doing it.
func signInProblem(err error) error {
	var ie *identity.Error
	if !errors.As(err, &ie) {
		return err
	}
	title := "The sign-in did not succeed."
	switch {
	case ie.Has(50126):
		title = "The password is wrong."
	case ie.Has(50076) || ie.Has(50079):
		title = "This account requires multi-factor authentication."
	case ie.Has(54005) || ie.Has(70008) || ie.Has(70000):
		title = "This sign-in was already used or has expired."
	case ie.Class == identity.Transient:
		title = "Microsoft's sign-in service did not answer."
	}
	return &Problem{title, ie.Advice()}
}

// --- Copy URL ---------------------------------------------------------------

type monitorLinkPayload struct {
	Tenant     uuid.UUID `json:"t"`
	Monitor    uuid.UUID `json:"m"`
	Generation int       `json:"g"`
}

// IssueMonitorLink is "Copy URL", for onboarding, the tenant pages and the
// tenant API alike: a signed link, valid 72 hours, that whoever holds the
// monitor's credentials opens to sign it in. It withdraws the monitor's
// earlier links, so exactly one link works at a time — for one sign-in,
// until it expires — and asking again does not leave a second one
// working; Retry, Renew and a successful sign-in end it too. Audited
// (never the link itself). store.ErrMonitorNotFound for a monitor not in
// the tenant (or being removed).
func (s *Service) IssueMonitorLink(ctx context.Context, tenantID, monitorID uuid.UUID, actor string) (string, time.Time, error) {
	var link string
	var exp time.Time
	err := s.tx(ctx, func(tx store.Tx) error {
		ms, err := tx.Monitors(ctx, tenantID) // not GetMonitor: a monitor being removed is gone
		if err != nil {
			return err
		}
		i := slices.IndexFunc(ms, func(m store.Monitor) bool { return m.ID == monitorID })
		if i < 0 {
			return store.ErrMonitorNotFound
		}
		gen, err := tx.ResetMonitorLink(ctx, tenantID, monitorID)
		if err != nil {
			return err
		}
		tok, err := s.links.Make(linkMonitor, monitorLinkPayload{tenantID, monitorID, gen}, MonitorLinkTTL)
		if err != nil {
			return err
		}
		link, exp = s.cfg.BaseURL+"/onboarding/m/"+tok, time.Now().Add(MonitorLinkTTL)
		if err := tx.RecordMonitorLink(ctx, tenantID, monitorID, s.links.ActiveKey(), exp); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "monitor.link_created", map[string]any{"monitor": monitorID, "upn": ms[i].UPN,
			"expiresAt": exp, "earlierLinksWithdrawn": true})
	})
	return link, exp, err
}

// RenewMonitor asks the engine to renew the monitor's subscription at
// Graph on its next pass (Renew), rather than at its point before expiry.
// A monitor that holds no subscription is told so as a Problem.
func (s *Service) RenewMonitor(ctx context.Context, tenantID, monitorID uuid.UUID, actor string) error {
	m, err := s.st.GetMonitor(ctx, tenantID, monitorID)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx store.Tx) error {
		at, err := tx.RequestRenewal(ctx, tenantID, monitorID)
		if errors.Is(err, store.ErrNothingToRenew) {
			return &Problem{m.UPN + " has no subscription to renew.",
				"A monitor holds one once it is authorized and covers users; Presence Bridge makes it within a minute of that."}
		}
		if err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "monitor.renewal_requested", map[string]any{"monitor": monitorID, "upn": m.UPN, "requestedAt": at})
	})
}

// ErrMonitorSignedIn comes with the Problem of a Copy URL whose monitor
// has signed in since the link was made: good news, not a failure.
var ErrMonitorSignedIn = errors.New("onboarding: the link's monitor is signed in")

// OpenMonitorLink checks a Copy-URL token.
func (s *Service) OpenMonitorLink(ctx context.Context, token string) (store.Tenant, store.Monitor, error) {
	var p monitorLinkPayload
	if _, err := s.links.Open(linkMonitor, token, &p); err != nil {
		return store.Tenant{}, store.Monitor{}, linkProblem(err)
	}
	t, m, err := s.tenantMonitor(ctx, p.Tenant, p.Monitor)
	if errors.Is(err, store.ErrMonitorNotFound) || errors.Is(err, store.ErrTenantNotFound) {
		return t, m, ErrLinkRevoked
	}
	if err != nil {
		return t, m, err
	}
	if m.LinkGeneration != p.Generation {
		if m.Status == store.MonitorAuthorized {
			return t, m, errors.Join(ErrMonitorSignedIn, &Problem{m.UPN + " is already signed in.", "Nothing more to do: you can close this page."})
		}
		return t, m, ErrLinkRevoked
	}
	return t, m, nil
}

// RetryMonitor (also Renew) invalidates the monitor's earlier links so a
// fresh sign-in can start.
func (s *Service) RetryMonitor(ctx context.Context, tenantID, monitorID uuid.UUID, actor string) error {
	return s.tx(ctx, func(tx store.Tx) error {
		if _, err := tx.ResetMonitorLink(ctx, tenantID, monitorID); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "monitor.link_reset", map[string]any{"monitor": monitorID})
	})
}

// DeleteMonitor removes a monitor and its sealed tokens; one holding a
// Graph subscription goes once the engine has deleted the subscription.
func (s *Service) DeleteMonitor(ctx context.Context, tenantID, monitorID uuid.UUID, actor string) error {
	return s.tx(ctx, func(tx store.Tx) error {
		m, err := tx.GetMonitor(ctx, tenantID, monitorID)
		if err != nil {
			return err
		}
		deferred, err := tx.RemoveMonitor(ctx, tenantID, monitorID)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "monitor.deleted", map[string]any{"monitor": monitorID, "upn": m.UPN, "subscription_pending_deletion": deferred})
	})
}

// --- step 3: complete ------------------------------------------------------

// Complete activates the tenant once consent and enough monitors are green.
func (s *Service) Complete(ctx context.Context, tenantID uuid.UUID, actor string) error {
	st, err := s.Status(ctx, tenantID)
	if err != nil {
		return err
	}
	switch {
	case st.Onboarding.ConsentStatus != "granted":
		return &Problem{"Authorize Presence Bridge first.", "Admin consent is not granted yet."}
	case st.Authorized < st.MonitorsNeeded:
		return &Problem{"More monitors are needed.", english.Count(st.MonitorsNeeded-st.Authorized, "more monitor must", "more monitors must") + " be authorized for " +
			english.Count(st.Users, "user", "users") + "."}
	}
	return s.tx(ctx, func(tx store.Tx) error {
		if err := tx.CompleteOnboarding(ctx, tenantID); err != nil {
			return err
		}
		detail := map[string]any{"users": st.Users, "monitors": st.Authorized}
		// The form's webhook becomes the tenant's first endpoint, with a
		// signing secret the summary page shows.
		if st.Form.EventTarget == "webhook" && st.Form.WebhookURL != "" {
			eps, err := tx.Endpoints(ctx, tenantID)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(eps, func(e store.Endpoint) bool { return e.URL == st.Form.WebhookURL }) {
				secret, err := deliver.NewSecret()
				if err != nil {
					return err
				}
				ep, err := tx.CreateEndpoint(ctx, tenantID, st.Form.WebhookURL, secret)
				if err != nil {
					return err
				}
				detail["endpoint"] = ep.ID
			}
		}
		return tx.Audit(ctx, &tenantID, actor, "onboarding.completed", detail)
	})
}

// Integration is a webhook the platform receives events at; its signing
// secret is read only when asked for (SigningSecret).
type Integration struct {
	WebhookURL string
	Enabled    bool
}

// ErrUnknownWebhook: no webhook of the tenant has that URL.
var ErrUnknownWebhook = errors.New("onboarding: no such webhook")

// Integrations lists the tenant's webhooks.
func (s *Service) Integrations(ctx context.Context, tenantID uuid.UUID) ([]Integration, error) {
	eps, err := s.st.Endpoints(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Integration, 0, len(eps))
	for _, e := range eps {
		out = append(out, Integration{WebhookURL: e.URL, Enabled: e.Enabled})
	}
	return out, nil
}

// SigningSecret opens the signing secret of the tenant's webhook at url,
// for the summary page's reveal (the tenant's admin alone reaches it):
// deliver.RevealSecret, as the tenant pages' reveal, so both record it
// alike (endpoint.secret_revealed).
func (s *Service) SigningSecret(ctx context.Context, tenantID uuid.UUID, url, actor string) (string, error) {
	eps, err := s.st.Endpoints(ctx, tenantID)
	if err != nil {
		return "", err
	}
	for _, e := range eps {
		if e.URL == url {
			return deliver.RevealSecret(ctx, s.st, tenantID, e.ID, actor)
		}
	}
	return "", ErrUnknownWebhook
}

// NewAPIKey issues an API key with every scope for the tenant REST API
// and event stream; it is shown once and only its hash is kept.
func (s *Service) NewAPIKey(ctx context.Context, tenantID uuid.UUID, name, actor string) (string, error) {
	key, _, err := apikeys.Create(ctx, s.st, tenantID, apikeys.New{Name: name, Scopes: store.AllScopes}, actor)
	return key, err
}
