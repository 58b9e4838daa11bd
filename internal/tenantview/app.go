package tenantview

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/alertmail"
	"presencebridge/internal/store"
)

// AppRegistration is the app registration a tenant's access to Microsoft
// goes through: Presence Bridge's (Own false, nothing more to say) or its
// own, with the client secret's expiry and the warnings before it.
type AppRegistration struct {
	Own             bool
	ClientID        uuid.UUID
	AppTenantID     uuid.UUID
	SecretExpiresAt *time.Time // nil when unknown
	ExpirySource    string     // graph (read from Microsoft) or admin (entered)
	// Stage is the warning in force, in days before expiry (30, 7, 1), or
	// 0: the same stage as the app_secret_expiring alert and its mail.
	Stage int
	// Forecast is every warning, the first first: when it is (or was) due.
	Forecast []SecretWarning
	// NeedsUpdate are the monitors (UPNs) that must sign in again because
	// the app registration changed.
	NeedsUpdate []string
}

// SecretWarning is one of the warnings before a secret expires.
type SecretWarning struct {
	Days int
	At   time.Time
	Due  bool // at or after At: sent, or being sent
}

// Expired reports whether the secret had expired at now.
func (a AppRegistration) Expired(now time.Time) bool {
	return a.SecretExpiresAt != nil && !a.SecretExpiresAt.After(now)
}

// AppRegistration reads the tenant's app registration as of now.
func (r *Reader) AppRegistration(ctx context.Context, tenantID uuid.UUID, now time.Time) (AppRegistration, error) {
	a, err := r.st.GetTenantApp(ctx, tenantID)
	if errors.Is(err, store.ErrNoTenantApp) {
		return AppRegistration{}, nil
	}
	if err != nil {
		return AppRegistration{}, err
	}
	out := AppRegistration{Own: true, ClientID: a.ClientID, AppTenantID: a.AppTenantID, SecretExpiresAt: a.SecretExpiresAt,
		ExpirySource: a.SecretExpirySource, Stage: alertmail.SecretStage(a.SecretExpiresAt, now)}
	if a.SecretExpiresAt != nil {
		for _, d := range alertmail.SecretStages {
			at := a.SecretExpiresAt.Add(-time.Duration(d) * 24 * time.Hour)
			out.Forecast = append(out.Forecast, SecretWarning{Days: d, At: at, Due: !now.Before(at)})
		}
	}
	ms, err := r.st.Monitors(ctx, tenantID)
	if err != nil {
		return AppRegistration{}, err
	}
	for _, m := range ms {
		if m.Status == store.MonitorNeedsUpdate {
			out.NeedsUpdate = append(out.NeedsUpdate, m.UPN)
		}
	}
	return out, nil
}
