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

// App registrations: GET /applications (with $filter=appId eq '…'),
// /applications/{objectId} and /applications(appId='…'), with
// passwordCredentials so a publisher can watch its secrets expire
// (docs/identity.md#secret-expiry). The application object exists
// only in the app's home tenant: a token for any other tenant finds
// nothing (an empty list, 404 by key). An App without HomeTenantID is
// treated as registered in every tenant where it has a grant.

// appReadPerms read any registration; Application.ReadWrite.OwnedBy reads
// only the caller's own (graphsim treats an app as owner of itself).
var appReadPerms = []string{"Application.Read.All", "Directory.Read.All", "Application.ReadWrite.OwnedBy"}

var appFilterSchema = filterSchema{entity: "microsoft.graph.application", resource: "Application", props: map[string]filterProp{
	"id":          {"id", kindString},
	"appid":       {"appId", kindString},
	"displayname": {"displayName", kindString},
}}

var defaultAppProps = []string{"appId", "createdDateTime", "deletedDateTime", "displayName", "id", "keyCredentials",
	"passwordCredentials", "publisherDomain", "requiredResourceAccess", "signInAudience", "web"}

var appProps = propIndex(defaultAppProps...)

// applicationRoutes serves /applications, /servicePrincipals and
// /oauth2PermissionGrants.
func (s *Sim) applicationRoutes(r chi.Router) {
	r.Get("/applications", s.listApplications)
	r.Get("/applications/{app}", s.getApplication)
	r.Get("/applications({key})", s.getApplication)
	s.servicePrincipalRoutes(r)
}

// appObjectID is the application object's id (not its appId).
func appObjectID(app *App) uuid.UUID {
	return uuid.NewSHA1(app.HomeTenantID, []byte("app:"+app.ClientID))
}

// appVisibleLocked reports whether the application object of app is in
// tenant and the caller may read it.
func (s *Sim) appVisibleLocked(app *App, p *Principal) bool {
	if app.HomeTenantID != uuid.Nil {
		if app.HomeTenantID != p.TenantID {
			return false
		}
	} else if t := s.tenants[p.TenantID]; t == nil || t.grants[app.ClientID] == nil {
		return false
	}
	if !p.Has("Application.Read.All") && !p.Has("Directory.Read.All") {
		return app.ClientID == p.AppID // Application.ReadWrite.OwnedBy
	}
	return true
}

func appValue(app *App, prop string, now time.Time) any {
	switch prop {
	case "id":
		return appObjectID(app).String()
	case "appId":
		return app.ClientID
	case "displayName":
		return app.DisplayName
	case "signInAudience":
		if app.MultiTenant {
			return "AzureADMultipleOrgs"
		}
		return "AzureADMyOrg"
	case "keyCredentials":
		return []any{}
	case "passwordCredentials":
		return passwordCredentials(app, now)
	case "web":
		return map[string]any{"redirectUris": slices.Clone(app.RedirectURIs), "homePageUrl": nil, "logoutUrl": nil}
	case "requiredResourceAccess":
		var access []map[string]any
		for _, p := range app.Delegated {
			access = append(access, map[string]any{"id": permissionID("scope", p).String(), "type": "Scope"})
		}
		for _, p := range app.Application {
			access = append(access, map[string]any{"id": permissionID("role", p).String(), "type": "Role"})
		}
		return []map[string]any{{"resourceAppId": GraphAppID, "resourceAccess": access}}
	}
	return nil // createdDateTime, deletedDateTime; publisherDomain: see appJSON
}

// passwordCredentials are app's secrets as Graph lists them: hint is the
// secret's first three characters and secretText is never returned (docs/identity.md#granted-permissions).
// graphsim keeps no start date: a secret is shown valid for two years
// before it expires (the portal's default), and never starting later than now.
func passwordCredentials(app *App, now time.Time) []map[string]any {
	out := []map[string]any{}
	for i, sec := range app.Secrets {
		start := sec.Expires.AddDate(-2, 0, 0)
		if start.After(now) {
			start = now
		}
		hint := sec.Value
		if len(hint) > 3 {
			hint = hint[:3]
		}
		out = append(out, map[string]any{
			"customKeyIdentifier": nil,
			"displayName":         fmt.Sprintf("graphsim secret %d", i+1),
			"endDateTime":         sec.Expires.UTC().Format(time.RFC3339),
			"hint":                hint,
			"keyId":               sec.KeyID.String(),
			"secretText":          nil,
			"startDateTime":       start.UTC().Format(time.RFC3339),
		})
	}
	return out
}

func (s *Sim) appJSON(app *App, sel []string) map[string]any {
	if sel == nil {
		sel = defaultAppProps
	}
	now := s.clock()
	m := map[string]any{}
	for _, p := range sel {
		if p == "publisherDomain" {
			m[p] = s.publisherDomainLocked(app)
			continue
		}
		m[p] = appValue(app, p, now)
	}
	return m
}

func (s *Sim) publisherDomainLocked(app *App) any {
	if t := s.tenants[app.HomeTenantID]; t != nil {
		return t.Domain
	}
	return nil
}

func (s *Sim) listApplications(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	lq, ok := s.readListQuery(w, r, appReadPerms, appFilterSchema, appProps)
	if !ok {
		return
	}
	s.mu.RLock()
	var apps []*App
	for _, app := range s.apps {
		get := func(prop string) any { return appValue(app, prop, time.Time{}) }
		if s.appVisibleLocked(app, p) && (lq.filter == nil || lq.filter.match(get)) {
			apps = append(apps, app)
		}
	}
	slices.SortFunc(apps, func(a, b *App) int { return strings.Compare(a.ClientID, b.ClientID) })
	items := make([]map[string]any, len(apps))
	for i, app := range apps {
		items[i] = s.appJSON(app, lq.sel)
	}
	s.mu.RUnlock()
	s.writePage(w, r, "/v1.0/applications", selectContext("applications", lq.rawSel, lq.sel), lq, items, "applications")
}

// alternateKey reads appId='…' from a /things(appId='…') segment.
func alternateKey(r *http.Request) (string, bool) {
	key := chi.URLParam(r, "key")
	if dec, err := url.PathUnescape(key); err == nil {
		key = dec
	}
	name, val, ok := strings.Cut(key, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "appId") {
		return key, false
	}
	val = strings.TrimSpace(val)
	if len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
		return val, false
	}
	return val[1 : len(val)-1], true
}

func (s *Sim) getApplication(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	rawSel, sel, ok := s.readEntityQuery(w, r, appReadPerms, "microsoft.graph.application", appProps)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var app *App
	key := chi.URLParam(r, "app")
	if key == "" {
		if key, ok = alternateKey(r); !ok {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
				fmt.Sprintf("Invalid alternate key '%s': use appId='{client id}'.", key))
			return
		}
		app = s.apps[key]
	} else {
		for _, a := range s.apps {
			if strings.EqualFold(appObjectID(a).String(), key) {
				app = a
			}
		}
	}
	if app == nil || !s.appVisibleLocked(app, p) {
		writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key))
		return
	}
	writeJSON(w, http.StatusOK, entity(s.odataContext(selectContext("applications", rawSel, sel)+"/$entity"), s.appJSON(app, sel)))
}
