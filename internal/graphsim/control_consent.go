package graphsim

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// A customer's administrator takes our app's access away, and gives it
// back, in three ways:
//   - deleting the enterprise app (the service principal) withdraws its
//     consent: the app's role assignments and delegated grants go with it,
//     client credentials then fail with AADSTS7000229 (invalid_client,
//     "missing service principal") and a monitor's refresh token with
//     AADSTS65001 (invalid_grant, consent_required). Granting admin consent
//     again (https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent)
//     brings the service principal back, and refresh tokens issued before
//     work again (they were never revoked: only the consent was missing).
//   - disabling the service principal ("Enabled for users to sign in?" No)
//     keeps it and its grants but refuses every token with AADSTS7000112
//     (https://learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/error-code-aadsts7000112-application-is-disabled).
//   - letting the app's secret expire: ExpireSecrets (control.go).
// Tokens already issued keep working until they expire, as Microsoft's do.

// WithdrawConsent deletes the app's service principal in the tenant; false
// when the tenant or the consent does not exist.
func (s *Sim) WithdrawConsent(tenant uuid.UUID, clientID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenant]
	if t == nil || t.grants[clientID] == nil {
		return false
	}
	if t.withdrawn == nil {
		t.withdrawn = map[string]*Grant{}
	}
	t.withdrawn[clientID] = t.grants[clientID]
	delete(t.grants, clientID)
	return true
}

// RestoreConsent is an administrator granting the consent withdrawn
// before again, with the same permissions; false when none was withdrawn.
func (s *Sim) RestoreConsent(tenant uuid.UUID, clientID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenant]
	if t == nil || t.withdrawn[clientID] == nil {
		return false
	}
	g := *t.withdrawn[clientID]
	g.GrantedAt, g.Disabled = s.clock(), false
	t.grants[clientID] = &g
	delete(t.withdrawn, clientID)
	return true
}

// SetServicePrincipalEnabled enables or disables the app's service
// principal in the tenant; false when it has none there.
func (s *Sim) SetServicePrincipalEnabled(tenant uuid.UUID, clientID string, enabled bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenant]
	if t == nil || t.grants[clientID] == nil {
		return false
	}
	t.grants[clientID].Disabled = !enabled
	return true
}

func (s *Sim) consentControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"DELETE", "/tenants/{id}/grants/{clientId}", "",
			"the tenant's admin deletes the app's service principal: its consent is withdrawn", s.ctlRevokeConsent},
		{"POST", "/tenants/{id}/grants/{clientId}/restore", "",
			"the admin grants the consent withdrawn before again, with the same permissions", s.ctlRestoreConsent},
		{"PATCH", "/tenants/{id}/servicePrincipals/{clientId}", `{"accountEnabled": false}`,
			"disable (every token refused, AADSTS7000112) or enable the app's service principal", s.ctlPatchServicePrincipal},
	}
}

func (s *Sim) ctlRevokeConsent(w http.ResponseWriter, r *http.Request) {
	id, _ := uuid.Parse(chi.URLParam(r, "id"))
	if !s.WithdrawConsent(id, chi.URLParam(r, "clientId")) {
		ctlFail(w, 404, "no such tenant or consent")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlRestoreConsent(w http.ResponseWriter, r *http.Request) {
	id, _ := uuid.Parse(chi.URLParam(r, "id"))
	if !s.RestoreConsent(id, chi.URLParam(r, "clientId")) {
		ctlFail(w, 404, "no such tenant or withdrawn consent")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlPatchServicePrincipal(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AccountEnabled *bool `json:"accountEnabled"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.AccountEnabled == nil {
		ctlFail(w, 400, "accountEnabled is required")
		return
	}
	id, _ := uuid.Parse(chi.URLParam(r, "id"))
	if !s.SetServicePrincipalEnabled(id, chi.URLParam(r, "clientId"), *body.AccountEnabled) {
		ctlFail(w, 404, "no such tenant or service principal")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
