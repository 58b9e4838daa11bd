package onboarding

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// OwnApp is "bring your own app registration", the model of the older
// products: the tenant's admin gives their own app's client id, tenant id
// and client secret instead of consenting to ours.
type OwnApp struct {
	ClientID      string
	TenantID      string
	ClientSecret  string
	SecretExpires string // yyyy-mm-dd, when Graph cannot tell us
}

// SecretExpiryReader reads an app registration's client secrets (hint and
// expiry) from Graph's /applications, with an app-only token for the app's
// own tenant (permitted when the app holds Application.Read.All or
// Application.ReadWrite.OwnedBy); internal/graph provides it.
type SecretExpiryReader func(ctx context.Context, accessToken, clientID string) ([]graphapi.SecretCredential, error)

// secretExpiry finds the entered secret among the app's credentials by its
// hint (Graph shows a secret's first three characters); with several
// matches the earliest expiry is the safe one.
func secretExpiry(creds []graphapi.SecretCredential, secret string) (time.Time, bool) {
	var best time.Time
	for _, c := range creds {
		if len(secret) >= 3 && c.Hint == secret[:3] && !c.Expires.IsZero() && (best.IsZero() || c.Expires.Before(best)) {
			best = c.Expires
		}
	}
	return best, !best.IsZero()
}

// SetOwnApp checks and stores a tenant's own app registration. The secret
// is proved with a client-credentials token for the app's tenant; its
// expiry is read from Graph when permitted, else the date entered is used.
// Changing the client or tenant id marks every monitor "needs update".
func (s *Service) SetOwnApp(ctx context.Context, tenantID uuid.UUID, a OwnApp, expiry SecretExpiryReader, actor string) (FieldErrors, error) {
	a.ClientID, a.TenantID, a.SecretExpires = strings.TrimSpace(a.ClientID), strings.TrimSpace(strings.ToLower(a.TenantID)), strings.TrimSpace(a.SecretExpires)
	fe := FieldErrors{}
	clientID, err := uuid.Parse(a.ClientID)
	if err != nil {
		fe["clientId"] = "Enter the app registration's Application (client) ID, a GUID."
	}
	appTenant, err := uuid.Parse(a.TenantID)
	if err != nil {
		fe["tenantId"] = "Enter the Directory (tenant) ID shown on the app registration's overview, a GUID."
	}
	if a.ClientSecret == "" {
		fe["clientSecret"] = "Enter a client secret's value (not its id)."
	}
	var entered *time.Time
	if a.SecretExpires != "" {
		d, err := time.Parse("2006-01-02", a.SecretExpires)
		switch {
		case err != nil:
			fe["secretExpires"] = "Enter the date as yyyy-mm-dd."
		case !d.After(time.Now()):
			fe["secretExpires"] = "This secret has already expired; create a new one."
		default:
			entered = &d
		}
	}
	if len(fe) > 0 {
		return fe, nil
	}
	app := identity.App{ClientID: clientID.String(), ClientSecret: a.ClientSecret}
	at, err := s.id.AppTokenFor(ctx, app, appTenant.String())
	if err != nil {
		var ie *identity.Error
		if errors.As(err, &ie) && ie.Class != identity.Transient {
			field := "clientSecret"
			if ie.Class == identity.ConsentMissing {
				field = "clientId"
			}
			return FieldErrors{field: ie.Summary + " " + ie.Advice()}, nil
		}
		return nil, err
	}
	rec := store.TenantApp{TenantID: tenantID, ClientID: clientID, AppTenantID: appTenant}
	if expiry != nil {
		if creds, err := expiry(ctx, at.AccessToken, clientID.String()); err == nil {
			if exp, ok := secretExpiry(creds, a.ClientSecret); ok {
				rec.SecretExpiresAt, rec.SecretExpirySource = &exp, "graph"
			}
		}
	}
	if rec.SecretExpiresAt == nil {
		if entered == nil {
			return FieldErrors{"secretExpires": "Presence Bridge cannot read this secret's expiry from Microsoft; enter it (Certificates & secrets → Expires)."}, nil
		}
		rec.SecretExpiresAt, rec.SecretExpirySource = entered, "admin"
	}
	err = s.tx(ctx, func(tx store.Tx) error {
		changed, err := tx.PutTenantApp(ctx, rec, a.ClientSecret)
		if err != nil {
			return err
		}
		if err := tx.ConsentGranted(ctx, tenantID, at.TenantID); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "app.own_set", map[string]any{"clientId": clientID, "appTenantId": appTenant,
			"monitorsNeedUpdate": changed, "secretExpires": rec.SecretExpiresAt, "expirySource": rec.SecretExpirySource, "roles": at.Roles})
	})
	if errors.Is(err, store.ErrMicrosoftTenantTaken) {
		return FieldErrors{"tenantId": "This Microsoft tenant is already connected to another Presence Bridge account."}, nil
	}
	return nil, err
}

// Credentials names the app registration and Microsoft tenant to use for
// a tenant: its own app if it brought one, else ours.
func (s *Service) Credentials(ctx context.Context, tenantID uuid.UUID) (identity.App, string, error) {
	a, err := s.st.GetTenantApp(ctx, tenantID)
	if err == nil {
		secret, err := s.st.TenantAppSecret(ctx, tenantID)
		if err != nil {
			return identity.App{}, "", err
		}
		return identity.App{ClientID: a.ClientID.String(), ClientSecret: secret}, a.AppTenantID.String(), nil
	}
	if !errors.Is(err, store.ErrNoTenantApp) {
		return identity.App{}, "", err
	}
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return identity.App{}, "", err
	}
	if t.MSTenantID == nil {
		return identity.App{}, "", &Problem{"Authorize Presence Bridge first.", "Admin consent must be granted first."}
	}
	return s.cfg.App, t.MSTenantID.String(), nil
}
