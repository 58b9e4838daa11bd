package graphsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// accountControlRoutes: seeding, tenants, accounts, the app registration
// and token-endpoint faults.
func (s *Sim) accountControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"POST", "/seed", `{"app": {"clientId": "11111111-2222-4333-8444-555555555555", "clientSecret": "s3cret", "redirectUris": []},
  "tenants": [{"id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "domain": "fabrikam.example", "consented": false,
    "admin": {"upn": "admin@fabrikam.example", "password": "Admin-1"},
    "users": [{"upn": "ann@fabrikam.example", "displayName": "Ann Lee", "password": "Ann-1"}], "monitors": []}]}`,
			"add an app registration, tenants and their accounts (the seed file's format; README, Seed file)", s.ctlSeed},
		{"POST", "/tenants", `{"users": 25, "monitors": 2, "consentFor": "<clientId, or empty>"}`,
			"generate a tenant (contoso-N.example) and answer its accounts with their passwords; consentFor pre-grants that app's admin consent", s.ctlCreateTenant},
		{"GET", "/tenants/{id}", "", "a tenant's accounts (with passwords) and consents", s.ctlGetTenant},
		{"PATCH", "/users/{id}", `{"mfaRequired": true, "enabled": true, "password": "New-1"}`,
			"change an account (each field optional); a new password revokes its refresh tokens, as an admin's reset does", s.ctlPatchUser},
		{"POST", "/users/{id}/revoke", "", "revokeSignInSessions: the account's refresh tokens issued so far fail (AADSTS50173)", s.ctlRevokeUser},
		{"GET", "/users/{id}/presence-read", "", "when getPresencesByUserId last answered the user's presence (readAt null: never)", s.ctlPresenceReadAt},
		{"PATCH", "/apps/{clientId}", `{"redirectUris": ["http://localhost:8080/onboarding/consent/callback"], "groupMembershipClaims": "DirectoryRole"}`,
			"add redirect URIs to the app registration; set its manifest's groupMembershipClaims (DirectoryRole or All: tokens carry wids; \"None\": not)", s.ctlPatchApp},
		{"POST", "/apps/{clientId}/expire-secrets", "", "the app's client secrets expire now", s.ctlExpireSecrets},
		{"GET", "/faults", "", "the token-endpoint faults in force",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.faults.list()) }},
		{"POST", "/faults/token", `{"clientId": "", "user": "pb-monitor-1@contoso-1.example", "grant": "refresh_token", "status": 400, "error": "invalid_grant", "code": 50076, "message": "MFA required", "delayMs": 0, "times": 1}`,
			"make the token endpoint fail or wait for a client, user or grant (empty: any); times 0 lasts until removed; 201 with its id", s.ctlAddTokenFault},
		{"DELETE", "/faults/{id}", "", "remove a token-endpoint fault", ctlRemove("fault", s.faults.remove)},
	}
}

type ctlError struct {
	Error string `json:"error"`
}

func ctlFail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, ctlError{Error: fmt.Sprintf(format, args...)})
}

// decode reads a JSON body strictly: unknown fields are mistakes.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		ctlFail(w, http.StatusBadRequest, "bad JSON body: %v", err)
		return false
	}
	return true
}

func (s *Sim) ctlSeed(w http.ResponseWriter, r *http.Request) {
	var seed Seed
	if !decode(w, r, &seed) {
		return
	}
	if err := s.Apply(seed); err != nil {
		ctlFail(w, http.StatusConflict, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, seed)
}

// CreateTenant generates and adds a tenant with users and monitors, and
// returns it with every account's password.
func (s *Sim) CreateTenant(users, monitors int, consentFor string) (SeedTenant, error) {
	if users < 0 || monitors < 0 || users > 1_000_000 || monitors > 10_000 {
		return SeedTenant{}, errors.New("users must be 0–1,000,000 and monitors 0–10,000")
	}
	s.mu.RLock()
	n := len(s.tenants) + 1
	for s.byDomain[fmt.Sprintf("contoso-%d.example", n)] != nil {
		n++
	}
	s.mu.RUnlock()
	st := newGenerator(uint64(time.Now().UnixNano())).tenant(n, users, monitors)
	st.Consented = consentFor != ""
	err := s.Apply(Seed{App: SeedApp{ClientID: consentFor}, Tenants: []SeedTenant{st}})
	return st, err
}

func (s *Sim) ctlCreateTenant(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Users      int    `json:"users"`
		Monitors   int    `json:"monitors"`
		ConsentFor string `json:"consentFor"` // a client id to pre-consent, or empty
	}
	if !decode(w, r, &body) {
		return
	}
	if body.ConsentFor != "" {
		s.mu.RLock()
		_, ok := s.apps[body.ConsentFor]
		s.mu.RUnlock()
		if !ok {
			ctlFail(w, http.StatusBadRequest, "consentFor: no app %q", body.ConsentFor)
			return
		}
	}
	st, err := s.CreateTenant(body.Users, body.Monitors, body.ConsentFor)
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func (s *Sim) ctlGetTenant(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		ctlFail(w, 400, "tenant id must be a GUID")
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tenants[id]
	if t == nil {
		ctlFail(w, 404, "no tenant %s", id)
		return
	}
	type userOut struct {
		ID          uuid.UUID `json:"id"`
		UPN         string    `json:"upn"`
		DisplayName string    `json:"displayName"`
		Password    string    `json:"password"`
		MFARequired bool      `json:"mfaRequired"`
		Enabled     bool      `json:"enabled"`
		Admin       bool      `json:"admin"` // may grant admin consent
		Roles       []string  `json:"roles"` // directory role template ids (wids)
	}
	out := struct {
		ID       uuid.UUID `json:"id"`
		Domain   string    `json:"domain"`
		Name     string    `json:"name"`
		Consents []*Grant  `json:"consents"`
		Users    []userOut `json:"users"`
	}{ID: t.ID, Domain: t.Domain, Name: t.DisplayName, Consents: []*Grant{}}
	for _, g := range t.grants {
		out.Consents = append(out.Consents, g)
	}
	for _, u := range t.users {
		out.Users = append(out.Users, userOut{u.ID, u.UPN, u.DisplayName, u.Password, u.MFARequired, u.Enabled, canGrantConsent(u), directoryRoles(u)})
	}
	sort.Slice(out.Users, func(i, j int) bool { return out.Users[i].UPN < out.Users[j].UPN })
	writeJSON(w, 200, out)
}

func (s *Sim) userParam(w http.ResponseWriter, r *http.Request) *User {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		ctlFail(w, 400, "user id must be a GUID")
		return nil
	}
	u := s.users[id]
	if u == nil {
		ctlFail(w, 404, "no user %s", id)
	}
	return u
}

func (s *Sim) ctlPatchUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MFARequired *bool   `json:"mfaRequired"`
		Enabled     *bool   `json:"enabled"`
		Password    *string `json:"password"`
	}
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userParam(w, r)
	if u == nil {
		return
	}
	if body.MFARequired != nil {
		u.MFARequired = *body.MFARequired
	}
	if body.Enabled != nil {
		u.Enabled = *body.Enabled
	}
	if body.Password != nil { // an admin reset in the Entra admin center revokes refresh tokens (docs/identity.md#refresh-token-rotation)
		u.Password = *body.Password
		u.RevokedAt = s.clock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// RevokeUser is revokeSignInSessions: every refresh token issued so far
// stops working with AADSTS50173.
func (s *Sim) RevokeUser(id uuid.UUID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return false
	}
	u.RevokedAt = s.clock()
	return true
}

func (s *Sim) ctlRevokeUser(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil || !s.RevokeUser(id) {
		ctlFail(w, 404, "no user %s", chi.URLParam(r, "id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlPatchApp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RedirectURIs          []string `json:"redirectUris"`
		GroupMembershipClaims *string  `json:"groupMembershipClaims"`
	}
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[chi.URLParam(r, "clientId")]
	if app == nil {
		ctlFail(w, 404, "no app %s", chi.URLParam(r, "clientId"))
		return
	}
	for _, u := range body.RedirectURIs {
		if !slices.Contains(app.RedirectURIs, u) {
			app.RedirectURIs = append(app.RedirectURIs, u)
		}
	}
	if body.GroupMembershipClaims != nil {
		app.GroupMembershipClaims = *body.GroupMembershipClaims
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlExpireSecrets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[chi.URLParam(r, "clientId")]
	if app == nil {
		ctlFail(w, 404, "no app %s", chi.URLParam(r, "clientId"))
		return
	}
	for i := range app.Secrets {
		app.Secrets[i].Expires = s.clock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// AddTokenFault installs a token-endpoint fault and returns it with its id.
func (s *Sim) AddTokenFault(f TokenFault) TokenFault { return s.faults.addToken(f) }

// RemoveTokenFault removes a token-endpoint fault; false when there is none.
func (s *Sim) RemoveTokenFault(id string) bool { return s.faults.remove(id) }

func (s *Sim) ctlAddTokenFault(w http.ResponseWriter, r *http.Request) {
	var f TokenFault
	if !decode(w, r, &f) {
		return
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		ctlFail(w, 400, "status must be a 4xx or 5xx code")
		return
	}
	writeJSON(w, http.StatusCreated, s.faults.addToken(f))
}

// ctlRemove is a DELETE of the {id} in the path: 204 once remove found
// it, 404 naming what when it did not.
func ctlRemove(what string, remove func(id string) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !remove(chi.URLParam(r, "id")) {
			ctlFail(w, http.StatusNotFound, "no %s %s", what, chi.URLParam(r, "id"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// PresenceRead is what GET /_sim/users/{id}/presence-read answers.
type PresenceRead struct {
	ReadAt *time.Time `json:"readAt"`
}

func (s *Sim) ctlPresenceReadAt(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "the user id must be a GUID")
		return
	}
	var out PresenceRead
	if at, ok := s.PresenceReadAt(id); ok {
		out.ReadAt = &at
	}
	writeJSON(w, http.StatusOK, out)
}
