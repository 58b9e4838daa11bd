package onboarding

import (
	"net/url"

	"presencebridge/internal/identity"
)

// ReconsentState is the OAuth state of the consent URLs the engine's
// alerts carry (ReconsentURL). An alert is read by whoever administers the
// tenant, in any browser and long after it was raised, so its consent
// cannot be bound to a session as onboarding's is. Nothing is recorded
// from its redirect, which anyone can forge (Reconsented): the engine's
// next pass gets a fresh app-only token for the tenant, and the roles it
// carries resolve the alert (docs/identity.md#admin-consent).
const ReconsentState = "reconsent"

// ReconsentURL is where an administrator of msTenant grants app its
// permissions again, for the alerts (consent withdrawn, write-back not
// granted): Microsoft's admin consent, returning to a callback the app
// registers. Ours registers ConsentRedirectURI; a tenant's own app
// registration has only MonitorRedirectURI, the one its onboarding asks
// for, and the identity platform refuses any other (AADSTS50011).
func (s *Service) ReconsentURL(app identity.App, msTenant string) string {
	redirect := s.ConsentRedirectURI()
	if app.ClientID != s.cfg.App.ClientID {
		redirect = s.MonitorRedirectURI()
	}
	return s.id.AdminConsentURL(identity.App{ClientID: app.ClientID}, msTenant, redirect, ReconsentState)
}

// Reconsented reads the redirect of a consent started from an alert
// (state ReconsentState): nil when Microsoft says it was granted, else a
// Problem for the administrator. It changes nothing.
func Reconsented(q url.Values) error {
	res := identity.ParseConsentCallback(q)
	switch {
	case res.Granted:
		return nil
	case res.Declined():
		return &Problem{"Consent was declined.", "Nothing changed, and the alert stays open. Open its link again and choose Accept, " +
			"as a Global Administrator (or Privileged Role Administrator) of your Microsoft tenant."}
	}
	return &Problem{"Microsoft did not grant consent.", firstLine(res.ErrorDescription) +
		" Open the alert's link again, or contact Presence Bridge support with this message."}
}
