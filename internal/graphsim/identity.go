package graphsim

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// identityRoutes mounts the Microsoft identity platform v2 endpoints under
// /{tenant}/ (docs/identity.md).
func (s *Sim) identityRoutes(r chi.Router) {
	r.Get("/{tenant}/oauth2/v2.0/authorize", s.authorize)
	r.Post("/{tenant}/oauth2/v2.0/authorize", s.signInPost)
	r.Get("/{tenant}/v2.0/adminconsent", s.adminConsent)
	r.Post("/{tenant}/v2.0/adminconsent", s.signInPost)
	r.Post("/{tenant}/oauth2/v2.0/token", s.token)
	r.Get("/{tenant}/v2.0/.well-known/openid-configuration", s.discovery)
	r.Get("/{tenant}/discovery/v2.0/keys", s.keys)
}

// discovery is the OpenID Connect metadata document. For common and
// organizations the issuer keeps the {tenantid} template (docs/identity.md#token-claims).
func (s *Sim) discovery(w http.ResponseWriter, r *http.Request) {
	seg := chi.URLParam(r, "tenant")
	s.mu.RLock()
	t, multi, ok := s.tenantLocked(seg)
	s.mu.RUnlock()
	if !ok {
		s.writeTokenError(w, errTenantNotFound(seg))
		return
	}
	base := s.BaseURL()
	issuerTenant := "{tenantid}"
	if !multi {
		issuerTenant = t.ID.String()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/" + issuerTenant + "/v2.0",
		"authorization_endpoint":                base + "/" + seg + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/" + seg + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/" + seg + "/discovery/v2.0/keys",
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"end_session_endpoint":                  base + "/" + seg + "/oauth2/v2.0/logout",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"code_challenge_methods_supported":      []string{"plain", "S256"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "tid", "oid", "preferred_username", "ver", "wids", "idp"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

func (s *Sim) keys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.signer.jwks(s.BaseURL()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
