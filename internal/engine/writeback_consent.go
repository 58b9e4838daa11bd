package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// alertWriteBack raises the write-back consent alert while the tenant's
// app-only token lacks Presence.ReadWrite.All, and resolves it once the
// role shows. Tenants that consented before our registration listed the
// permission lack it until an administrator consents again. Reading
// presence does not need it, so the tenant stays healthy: only the tenant
// API's presence writes are refused (409) meanwhile.
func (r *Runner) alertWriteBack(ctx context.Context, tenantID uuid.UUID, acc Access) error {
	role := identity.WriteBackRole
	if slices.ContainsFunc(acc.Roles, func(x string) bool { return strings.EqualFold(x, role) }) {
		return r.st.ResolveAlert(ctx, tenantID, store.AlertWriteBackConsent, role)
	}
	detail := map[string]any{"missing": role, "granted": slices.Clone(acc.Roles), "client_id": acc.ClientID,
		"own_app": acc.OwnApp, "consent_url": acc.ConsentURL}
	if err := r.st.RaiseAlert(ctx, tenantID, store.AlertWriteBackConsent, role, writeBackMessage(acc), detail); err != nil {
		return fmt.Errorf("write-back consent alert: %w", err)
	}
	return nil
}

// writeBackMessage is the alert, in an administrator's words: what is
// missing, what still works, and the fix.
func writeBackMessage(acc Access) string {
	const meanwhile = "Until then Presence Bridge reads presence as before, but cannot set presence in Teams: " +
		"the telephony platform's presence updates (\"In a call\") are refused."
	if acc.OwnApp {
		return fmt.Sprintf("Re-consent needed for presence write-back: grant %s to your own app registration for Presence Bridge (client id %s). %s "+
			"Fix: an administrator adds Microsoft Graph's application permission %s to that app registration (API permissions), "+
			"then grants admin consent at %s — write-back works within a minute; the monitors need not sign in again.",
			identity.WriteBackRole, acc.ClientID, meanwhile, identity.WriteBackRole, acc.ConsentURL)
	}
	return fmt.Sprintf("Re-consent needed for presence write-back: grant %s to Presence Bridge's app in your Microsoft tenant. %s "+
		"Fix: a Global Administrator grants consent again at %s (the consent now includes %s) — "+
		"write-back works within a minute; the monitors need not sign in again.",
		identity.WriteBackRole, meanwhile, acc.ConsentURL, identity.WriteBackRole)
}
