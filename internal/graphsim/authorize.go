package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// authRequest is a sign-in in progress, between the page and its POST.
type authRequest struct {
	id           string
	consent      bool // the admin-consent flow rather than /authorize
	tenant       *Tenant
	app          *App
	redirectURI  string
	responseMode string
	state        string
	scopes       []string
	nonce        string
	challenge    string
	method       string
	loginHint    string
	maxAge       int       // max_age in seconds; -1 when not asked
	user         *User     // set once the password checked out (MFA pending)
	authTime     time.Time // when the password checked out
	created      time.Time
}

// authCode is an issued authorization code (single use, ~10 minutes).
type authCode struct {
	app         *App
	tenant      *Tenant
	user        *User
	scopes      []string // Graph permissions granted
	oidc        []string // OIDC scopes asked for at sign-in (offline_access, openid…)
	redirectURI string
	challenge   string
	method      string
	nonce       string
	authTime    time.Time // when the person entered their credentials
	maxAge      bool      // max_age was asked: the ID token carries auth_time
	issued      time.Time
	redeemed    bool
}

// authorize handles GET /{tenant}/oauth2/v2.0/authorize
// (docs/identity.md#delegated-sign-in). Until client and redirect URI are known good, errors are shown on
// the page: Entra never redirects to an unregistered URI.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, ok := s.startRequest(w, r, q, false)
	if !ok {
		return
	}
	if rt := q.Get("response_type"); rt != "code" {
		s.redirectError(w, req, "unsupported_response_type", 700054, fmt.Sprintf("response_type '%s' is not supported for this application.", rt), "")
		return
	}
	if req.responseMode != "query" && req.responseMode != "form_post" && req.responseMode != "fragment" {
		s.redirectError(w, req, "invalid_request", 900144, "The provided value for the input parameter 'response_mode' is not valid.", "")
		return
	}
	if strings.TrimSpace(q.Get("scope")) == "" {
		s.redirectError(w, req, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.", "")
		return
	}
	req.scopes = strings.Fields(q.Get("scope"))
	req.nonce, req.loginHint = q.Get("nonce"), q.Get("login_hint")
	req.challenge, req.method = q.Get("code_challenge"), q.Get("code_challenge_method")
	if req.challenge != "" && req.method == "" {
		req.method = "plain" // docs/identity.md#delegated-sign-in: plain is assumed when the method is omitted
	}
	if req.method != "" && req.method != "S256" && req.method != "plain" {
		s.redirectError(w, req, "invalid_request", 5000, "Invalid code_challenge_method: "+req.method, "")
		return
	}
	if req.method == "S256" && len(req.challenge) != 43 {
		s.redirectError(w, req, "invalid_request", 501491, "Invalid size of Code_Challenge parameter.", "")
		return
	}
	if req.maxAge, ok = parseMaxAge(q.Get("max_age")); !ok {
		s.redirectError(w, req, "invalid_request", 90016, "The max_age parameter must be a non-negative number of seconds.", "")
		return
	}
	// prompt=login and max_age ask for credentials entered now: graphsim
	// keeps no browser session, so every sign-in is one, and auth_time is
	// when the password was checked (roles.go).
	if q.Get("prompt") == "none" { // graphsim keeps no browser session: silent sign-in cannot succeed
		s.redirectError(w, req, "login_required", 50058, "A silent sign-in request was sent but no user is signed in.", "")
		return
	}
	s.remember(req)
	renderPage(w, 200, "signin", pageData{Title: "Sign in", Req: req.id, Login: req.loginHint})
}

// adminConsent handles GET /{tenant}/v2.0/adminconsent (docs/identity.md#admin-consent).
func (s *Sim) adminConsent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, ok := s.startRequest(w, r, q, true)
	if !ok {
		return
	}
	req.responseMode = "query"
	req.scopes = strings.Fields(q.Get("scope"))
	if len(req.scopes) == 0 {
		s.redirectError(w, req, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.", "")
		return
	}
	s.remember(req)
	renderPage(w, 200, "signin", pageData{Title: "Permissions requested", Req: req.id, Consent: true,
		AppName: req.app.DisplayName, Permissions: permissionList(req.app)})
}

// startRequest checks tenant, client and redirect URI; on failure it has
// already answered with an error page.
func (s *Sim) startRequest(w http.ResponseWriter, r *http.Request, q url.Values, consent bool) (*authRequest, bool) {
	seg := chi.URLParam(r, "tenant")
	s.mu.RLock()
	t, _, found := s.tenantLocked(seg)
	app := s.apps[q.Get("client_id")]
	s.mu.RUnlock()
	fail := func(e aadError) (*authRequest, bool) {
		renderPage(w, http.StatusBadRequest, "message", pageData{Title: "Sorry, but we're having trouble signing you in.",
			Error: fmt.Sprintf("AADSTS%d: %s", e.Code, e.Message)})
		return nil, false
	}
	switch {
	case !found:
		return fail(errTenantNotFound(seg))
	case consent && strings.EqualFold(seg, "common"):
		return fail(newAAD(400, "invalid_request", 90130, "Admin consent cannot be requested on the /common endpoint; use /organizations or the tenant id."))
	case q.Get("client_id") == "":
		return fail(newAAD(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."))
	case app == nil:
		return fail(errUnknownClient(q.Get("client_id"), seg))
	case !slices.Contains(app.RedirectURIs, q.Get("redirect_uri")):
		return fail(newAAD(400, "invalid_request", 50011, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", q.Get("redirect_uri"), app.ClientID))
	}
	mode := q.Get("response_mode")
	if mode == "" {
		mode = "query"
	}
	return &authRequest{id: randomID(16), consent: consent, tenant: t, app: app, redirectURI: q.Get("redirect_uri"),
		responseMode: mode, state: q.Get("state"), created: s.clock()}, true
}

func (s *Sim) remember(req *authRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	for id, p := range s.pending { // forget abandoned sign-ins
		if now.Sub(p.created) > time.Hour {
			delete(s.pending, id)
		}
	}
	s.pending[req.id] = req
}

// signInPost handles the POSTs of the sign-in, MFA and consent pages for
// both flows.
func (s *Sim) signInPost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		renderPage(w, 400, "message", pageData{Title: "Bad request", Error: "The form could not be read."})
		return
	}
	s.mu.Lock()
	req := s.pending[r.PostFormValue("req")]
	s.mu.Unlock()
	if req == nil {
		renderPage(w, 400, "message", pageData{Title: "Sorry, but we're having trouble signing you in.",
			Error: "AADSTS90014: The sign-in session has expired or is unknown. Start again from the application."})
		return
	}
	page := pageData{Title: "Sign in", Req: req.id, Login: r.PostFormValue("login"), Consent: req.consent,
		AppName: req.app.DisplayName, Permissions: permissionList(req.app)}
	if req.consent {
		page.Title = "Permissions requested"
	}
	switch r.PostFormValue("action") {
	case "cancel":
		s.forget(req)
		if req.consent {
			s.redirectError(w, req, "consent_required", 65004, "The resource owner or authorization server denied the request.", "")
		} else {
			s.redirectError(w, req, "access_denied", 65004, "User declined to consent to access the app.", "cancel")
		}
		return
	case "mfa":
		if req.user == nil {
			renderPage(w, 400, "message", pageData{Title: "Sign in", Error: "Sign in with your password first."})
			return
		}
		s.finishSignIn(w, req, req.user)
		return
	}
	s.mu.RLock()
	u, creds, aadErr := s.signInAccountLocked(page.Login, req.tenant)
	s.mu.RUnlock()
	switch {
	case aadErr != "":
		page.Error = aadErr
	case creds.Password != r.PostFormValue("password"):
		page.Error = "AADSTS50126: Your account or password is incorrect."
	case !u.Enabled || !creds.Enabled:
		page.Error = "AADSTS50057: Your account has been locked. Contact your support person to unlock it."
	}
	if page.Error != "" {
		renderPage(w, http.StatusOK, "signin", page)
		return
	}
	s.mu.Lock()
	req.authTime = s.clock()
	s.mu.Unlock()
	if creds.MFARequired {
		s.mu.Lock()
		req.user = u
		s.mu.Unlock()
		renderPage(w, http.StatusOK, "mfa", pageData{Title: "Approve sign in request", Req: req.id, Login: u.UPN})
		return
	}
	s.finishSignIn(w, req, u)
}

// finishSignIn completes a verified sign-in: grant consent, or issue a code.
func (s *Sim) finishSignIn(w http.ResponseWriter, req *authRequest, u *User) {
	s.mu.Lock()
	t := s.tenants[u.TenantID]
	if req.consent {
		if !canGrantConsent(u) {
			s.mu.Unlock()
			renderPage(w, http.StatusOK, "message", pageData{Title: "Need admin approval", Req: req.id,
				Error: fmt.Sprintf("AADSTS90094: %s needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.", req.app.DisplayName)})
			return
		}
		s.grantLocked(t, req.app, s.clock())
		delete(s.pending, req.id)
		s.mu.Unlock()
		s.redirect(w, req, map[string]string{"admin_consent": "True", "tenant": t.ID.String(),
			"scope": strings.Join(qualified(append(slices.Clone(req.app.Application), req.app.Delegated...)), " ")})
		return
	}
	grant := t.grants[req.app.ClientID]
	scopes, missing := grantedScopes(grant, req.scopes)
	// Signing in asking only who the person is (openid, profile…) needs
	// no admin consent: Entra asks the person's own consent for it, which
	// graphsim takes as given.
	if grant == nil && !slices.ContainsFunc(req.scopes, func(sc string) bool { return !isOIDCScope(sc) }) {
		scopes, missing = nil, ""
	} else if grant == nil {
		missing = "all"
	}
	if missing != "" {
		s.mu.Unlock()
		renderPage(w, http.StatusOK, "message", pageData{Title: "Need admin approval", Req: req.id,
			Error: fmt.Sprintf("AADSTS65001: The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", req.app.ClientID, req.app.DisplayName)})
		return
	}
	code := opaqueToken("1.A")
	s.codes[code] = &authCode{app: req.app, tenant: t, user: u, scopes: scopes, oidc: withOIDC(nil, req.scopes), redirectURI: req.redirectURI,
		challenge: req.challenge, method: req.method, nonce: req.nonce, authTime: req.authTime, maxAge: req.maxAge >= 0, issued: s.clock()}
	delete(s.pending, req.id)
	s.mu.Unlock()
	s.redirect(w, req, map[string]string{"code": code, "session_state": uuid.NewString()})
}

func (s *Sim) forget(req *authRequest) {
	s.mu.Lock()
	delete(s.pending, req.id)
	s.mu.Unlock()
}

// redirectError sends an OAuth error back to the client (docs/identity.md#delegated-sign-in); the admin
// consent flow keeps admin_consent=True on errors too (docs/identity.md#admin-consent).
func (s *Sim) redirectError(w http.ResponseWriter, req *authRequest, errCode string, code int, msg, subcode string) {
	now := s.clock().UTC()
	fields := map[string]string{"error": errCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", code, msg, uuid.NewString(), uuid.NewString(), now.Format("2006-01-02 15:04:05Z"))}
	if subcode != "" {
		fields["error_subcode"] = subcode
	}
	if req.consent {
		fields["admin_consent"] = "True"
	}
	s.redirect(w, req, fields)
}

func (s *Sim) redirect(w http.ResponseWriter, req *authRequest, fields map[string]string) {
	if req.state != "" {
		fields["state"] = req.state
	}
	if req.responseMode == "form_post" {
		renderPage(w, 200, "form_post", pageData{Action: req.redirectURI, Fields: fields})
		return
	}
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	sep := "?"
	if req.responseMode == "fragment" {
		sep = "#"
	} else if strings.Contains(req.redirectURI, "?") {
		sep = "&"
	}
	w.Header().Set("Location", req.redirectURI+sep+v.Encode())
	w.WriteHeader(http.StatusFound)
}

// grantedScopes maps requested scopes (short names, full URIs, .default)
// to what the tenant granted; missing names the first one not granted.
func grantedScopes(g *Grant, requested []string) (scopes []string, missing string) {
	if g == nil {
		return nil, "all"
	}
	var out []string
	for _, sc := range requested {
		short := strings.TrimPrefix(sc, "https://graph.microsoft.com/")
		switch {
		case isOIDCScope(short):
			continue
		case short == ".default":
			out = append(out, g.Scopes...)
		case slices.ContainsFunc(g.Scopes, func(x string) bool { return strings.EqualFold(x, short) }):
			out = append(out, short)
		default:
			return nil, sc
		}
	}
	slices.Sort(out)
	return slices.Compact(out), ""
}

func qualified(perms []string) []string {
	var out []string
	for _, p := range perms {
		if isOIDCScope(p) {
			out = append(out, p)
		} else {
			out = append(out, "https://graph.microsoft.com/"+p)
		}
	}
	return out
}

func permissionList(app *App) []string {
	var out []string
	for _, p := range app.Application {
		out = append(out, p+" (application)")
	}
	for _, p := range app.Delegated {
		out = append(out, p+" (delegated)")
	}
	return out
}
