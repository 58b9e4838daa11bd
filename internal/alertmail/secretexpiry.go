package alertmail

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"presencebridge/internal/store"
)

// SecretStages are the warnings before an own app's client secret
// expires, in days, gravest last: each opens an alert (and so a mail) of
// its own. The App registration page forecasts them (internal/tenantview).
var SecretStages = []int{30, 7, 1}

// SecretStage is the warning due for a secret expiring at exp, or 0.
func SecretStage(exp *time.Time, now time.Time) int {
	if exp == nil {
		return 0
	}
	stage := 0
	for _, d := range SecretStages {
		if exp.Sub(now) <= time.Duration(d)*24*time.Hour {
			stage = d
		}
	}
	return stage
}

// checkSecrets raises the stage due for every own app's client secret, the
// next stage superseding the last, and resolves the alert once the secret
// is replaced by one further away (or the app goes). An expired secret
// keeps its 1-day alert; the engine's access check raises the outage
// itself (tenant_access).
func (s *Sender) checkSecrets(ctx context.Context) error {
	apps, err := s.st.SecretExpiries(ctx, store.AlertSecretExpiring)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	var errs []error
	for _, a := range apps {
		stage := SecretStage(a.ExpiresAt, now)
		if stage == 0 {
			errs = append(errs, s.st.ResolveAlertsExcept(ctx, a.TenantID, store.AlertSecretExpiring, ""))
			continue
		}
		exp := a.ExpiresAt.UTC()
		when := fmt.Sprintf("expires on %s", stamp(exp))
		if !exp.After(now) {
			when = fmt.Sprintf("expired on %s", stamp(exp))
		}
		msg := fmt.Sprintf("The client secret of your own app registration for Presence Bridge (client id %s) %s. "+
			"When it has expired, Presence Bridge can no longer sign in to your Microsoft tenant and presence stops being monitored.",
			clientID(a), when)
		detail := map[string]any{"client_id": clientID(a), "expires_at": exp, "days": stage}
		errs = append(errs, s.st.RaiseAlertStage(ctx, a.TenantID, store.AlertSecretExpiring, strconv.Itoa(stage), msg, detail))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("secret expiry alerts: %w", err)
	}
	return nil
}

func clientID(a store.SecretExpiry) string {
	if a.ClientID == nil {
		return "unknown"
	}
	return a.ClientID.String()
}
