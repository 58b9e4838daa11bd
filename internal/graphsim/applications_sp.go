package graphsim

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// What a customer tenant granted (docs/identity.md#granted-permissions): our service
// principal there (GET /servicePrincipals?$filter=appId eq '…' or
// /servicePrincipals(appId='…')), its application permissions
// (/servicePrincipals/{id}/appRoleAssignments) and its delegated grants
// (/servicePrincipals/{id}/oauth2PermissionGrants or
// /oauth2PermissionGrants?$filter=clientId eq '{sp id}'), all derived from
// the tenant's Grant. Microsoft Graph's own service principal lists the
// app roles and scopes, so appRoleId values map back to names.
//
// Permission ids here are graphsim's (stable, derived from the name), not
// Microsoft's GUIDs: map them through the Graph service principal as the
// document says, never by hard-coded GUIDs.

// microsoftTenantID owns Microsoft's first-party apps such as Graph.
const microsoftTenantID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

var spReadPerms = []string{"Application.Read.All", "Directory.Read.All"}

var grantReadPerms = []string{"DelegatedPermissionGrant.Read.All", "Directory.Read.All", "Application.Read.All"}

// graphRoles and graphScopes are the Graph permissions graphsim names on
// Graph's service principal (more appear when a grant names them).
var (
	graphRoles = []string{"Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy",
		"Directory.Read.All", "Group.Read.All", "GroupMember.Read.All", "Presence.Read.All", "Presence.ReadWrite.All",
		"User.Read.All", "User.ReadBasic.All"}
	graphScopes = []string{"Application.Read.All", "Directory.Read.All", "Group.Read.All", "GroupMember.Read.All",
		"Presence.Read", "Presence.Read.All", "Presence.ReadWrite", "User.Read", "User.Read.All", "User.ReadBasic.All",
		"email", "offline_access", "openid", "profile"}
)

// permissionID is graphsim's id of a Graph app role ("role") or scope.
func permissionID(kind, name string) uuid.UUID {
	return uuid.NewSHA1(uuid.MustParse(GraphAppID), []byte(kind+":"+name))
}

// spView is one service principal in a tenant.
type spView struct {
	id    uuid.UUID
	app   *App // nil for Microsoft Graph
	grant *Grant
}

func (v spView) appID() string {
	if v.app == nil {
		return GraphAppID
	}
	return v.app.ClientID
}

// servicePrincipalsLocked lists t's service principals: Graph's, and one
// per app consented in t or registered there.
func (s *Sim) servicePrincipalsLocked(t *Tenant) []spView {
	out := []spView{{id: servicePrincipalID(t.ID, GraphAppID)}}
	for _, app := range s.apps {
		if g := t.grants[app.ClientID]; g != nil || app.HomeTenantID == t.ID {
			out = append(out, spView{id: servicePrincipalID(t.ID, app.ClientID), app: app, grant: g})
		}
	}
	slices.SortFunc(out, func(a, b spView) int { return compareUUID(a.id, b.id) })
	return out
}

func (s *Sim) spJSON(t *Tenant, v spView) map[string]any {
	m := map[string]any{
		"id": v.id.String(), "appId": v.appID(), "accountEnabled": true, "appRoleAssignmentRequired": false,
		"servicePrincipalType": "Application", "servicePrincipalNames": []string{v.appID()},
		"appRoles": []any{}, "oauth2PermissionScopes": []any{},
	}
	if v.app == nil {
		m["displayName"], m["appOwnerOrganizationId"] = "Microsoft Graph", microsoftTenantID
		roles, scopes := slices.Clone(graphRoles), slices.Clone(graphScopes)
		for _, g := range t.grants {
			roles, scopes = appendNew(roles, g.Roles...), appendNew(scopes, g.Scopes...)
		}
		var ar, ps []map[string]any
		for _, r := range roles {
			ar = append(ar, map[string]any{"allowedMemberTypes": []string{"Application"}, "description": r, "displayName": r,
				"id": permissionID("role", r).String(), "isEnabled": true, "origin": "Application", "value": r})
		}
		for _, sc := range scopes {
			ps = append(ps, map[string]any{"adminConsentDescription": sc, "adminConsentDisplayName": sc,
				"id": permissionID("scope", sc).String(), "isEnabled": true, "type": "Admin", "value": sc})
		}
		m["appRoles"], m["oauth2PermissionScopes"] = ar, ps
		return m
	}
	m["displayName"] = v.app.DisplayName
	m["accountEnabled"] = v.grant == nil || !v.grant.Disabled
	m["appOwnerOrganizationId"] = nil
	if v.app.HomeTenantID != uuid.Nil {
		m["appOwnerOrganizationId"] = v.app.HomeTenantID.String()
	}
	return m
}

func appendNew(list []string, more ...string) []string {
	for _, x := range more {
		if !slices.Contains(list, x) {
			list = append(list, x)
		}
	}
	return list
}

var spFilterSchema = filterSchema{entity: "microsoft.graph.servicePrincipal", resource: "ServicePrincipal", props: map[string]filterProp{
	"id":          {"id", kindString},
	"appid":       {"appId", kindString},
	"displayname": {"displayName", kindString},
}}

var spProps = propIndex("id", "appId", "displayName", "accountEnabled", "appRoleAssignmentRequired", "appOwnerOrganizationId",
	"servicePrincipalType", "servicePrincipalNames", "appRoles", "oauth2PermissionScopes")

func pick(m map[string]any, sel []string) map[string]any {
	if sel == nil {
		return m
	}
	out := make(map[string]any, len(sel))
	for _, p := range sel {
		out[p] = m[p]
	}
	return out
}

func (s *Sim) servicePrincipalRoutes(r chi.Router) {
	r.Get("/servicePrincipals", s.listServicePrincipals)
	for _, seg := range []string{"/servicePrincipals/{sp}", "/servicePrincipals({key})"} {
		r.Get(seg, s.getServicePrincipal)
		r.Get(seg+"/appRoleAssignments", s.listAppRoleAssignments)
		r.Get(seg+"/oauth2PermissionGrants", s.listSPGrants)
	}
	r.Get("/oauth2PermissionGrants", s.listOAuth2Grants)
}

func (s *Sim) listServicePrincipals(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	lq, ok := s.readListQuery(w, r, spReadPerms, spFilterSchema, spProps)
	if !ok {
		return
	}
	s.mu.RLock()
	var items []map[string]any
	if t := s.tenants[p.TenantID]; t != nil {
		for _, v := range s.servicePrincipalsLocked(t) {
			m := s.spJSON(t, v)
			if lq.filter == nil || lq.filter.match(func(prop string) any { return m[prop] }) {
				items = append(items, pick(m, lq.sel))
			}
		}
	}
	s.mu.RUnlock()
	s.writePage(w, r, "/v1.0/servicePrincipals", selectContext("servicePrincipals", lq.rawSel, lq.sel), lq, items, "servicePrincipals")
}

// lookupSPLocked resolves {sp} (object id) or ({key}) (appId='…') in the
// caller's tenant, or answers 404 (docs/identity.md#granted-permissions: 404 means never consented there).
func (s *Sim) lookupSPLocked(w http.ResponseWriter, r *http.Request) (*Tenant, spView, bool) {
	t := s.tenants[principal(r).TenantID]
	seg := chi.URLParam(r, "sp")
	byAppID := seg == ""
	if byAppID {
		var ok bool
		if seg, ok = alternateKey(r); !ok {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid alternate key '%s': use appId='{client id}'.", seg))
			return nil, spView{}, false
		}
	} else if dec, err := url.PathUnescape(seg); err == nil {
		seg = dec
	}
	if t != nil {
		for _, v := range s.servicePrincipalsLocked(t) {
			if (byAppID && strings.EqualFold(v.appID(), seg)) || (!byAppID && strings.EqualFold(v.id.String(), seg)) {
				return t, v, true
			}
		}
	}
	writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", seg))
	return nil, spView{}, false
}

func (s *Sim) getServicePrincipal(w http.ResponseWriter, r *http.Request) {
	rawSel, sel, ok := s.readEntityQuery(w, r, spReadPerms, "microsoft.graph.servicePrincipal", spProps)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, v, ok := s.lookupSPLocked(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, entity(s.odataContext(selectContext("servicePrincipals", rawSel, sel)+"/$entity"), pick(s.spJSON(t, v), sel)))
}

// assignmentID looks like Graph's: base64url, 43 characters.
func assignmentID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "|")))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *Sim) listAppRoleAssignments(w http.ResponseWriter, r *http.Request) {
	if !s.admitDirectoryRead(w, r, spReadPerms) {
		return
	}
	s.mu.RLock()
	t, v, ok := s.lookupSPLocked(w, r)
	if !ok {
		s.mu.RUnlock()
		return
	}
	items := []map[string]any{}
	if v.grant != nil {
		graphSP := servicePrincipalID(t.ID, GraphAppID).String()
		for _, role := range v.grant.Roles {
			items = append(items, map[string]any{
				"id": assignmentID(v.id.String(), role), "createdDateTime": v.grant.GrantedAt.UTC().Format(time.RFC3339),
				"deletedDateTime": nil, "appRoleId": permissionID("role", role).String(),
				"principalDisplayName": v.app.DisplayName, "principalId": v.id.String(), "principalType": "ServicePrincipal",
				"resourceDisplayName": "Microsoft Graph", "resourceId": graphSP,
			})
		}
	}
	s.mu.RUnlock()
	lq := listQuery{top: maxPageSize}
	s.writePage(w, r, "", "servicePrincipals('"+v.id.String()+"')/appRoleAssignments", lq, items, "")
}

// grantsLocked are the oAuth2PermissionGrants of t: one AllPrincipals
// (admin consent) grant per consented app with delegated scopes.
func (s *Sim) grantsLocked(t *Tenant) []map[string]any {
	var out []map[string]any
	graphSP := servicePrincipalID(t.ID, GraphAppID).String()
	for _, v := range s.servicePrincipalsLocked(t) {
		if v.grant == nil || len(v.grant.Scopes) == 0 {
			continue
		}
		out = append(out, map[string]any{
			"id": assignmentID("grant", v.id.String()), "clientId": v.id.String(), "consentType": "AllPrincipals",
			"principalId": nil, "resourceId": graphSP, "scope": strings.Join(v.grant.Scopes, " "),
		})
	}
	return out
}

var grantFilterSchema = filterSchema{entity: "microsoft.graph.oAuth2PermissionGrant", resource: "OAuth2PermissionGrant", props: map[string]filterProp{
	"clientid":    {"clientId", kindString},
	"consenttype": {"consentType", kindString},
	"principalid": {"principalId", kindString},
	"resourceid":  {"resourceId", kindString},
}}

var grantProps = map[string]string{"id": "id", "clientid": "clientId", "consenttype": "consentType",
	"principalid": "principalId", "resourceid": "resourceId", "scope": "scope"}

func (s *Sim) listSPGrants(w http.ResponseWriter, r *http.Request) {
	if !s.admitDirectoryRead(w, r, grantReadPerms) {
		return
	}
	s.mu.RLock()
	t, v, ok := s.lookupSPLocked(w, r)
	if !ok {
		s.mu.RUnlock()
		return
	}
	items := []map[string]any{}
	for _, g := range s.grantsLocked(t) {
		if g["clientId"] == v.id.String() {
			items = append(items, g)
		}
	}
	s.mu.RUnlock()
	s.writePage(w, r, "", "oauth2PermissionGrants", listQuery{top: maxPageSize}, items, "")
}

func (s *Sim) listOAuth2Grants(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	lq, ok := s.readListQuery(w, r, grantReadPerms, grantFilterSchema, grantProps)
	if !ok {
		return
	}
	s.mu.RLock()
	items := []map[string]any{}
	if t := s.tenants[p.TenantID]; t != nil {
		for _, g := range s.grantsLocked(t) {
			if lq.filter == nil || lq.filter.match(func(prop string) any { return g[prop] }) {
				items = append(items, pick(g, lq.sel))
			}
		}
	}
	s.mu.RUnlock()
	s.writePage(w, r, "/v1.0/oauth2PermissionGrants", selectContext("oauth2PermissionGrants", lq.rawSel, lq.sel), lq, items, "grants")
}
