package graphsim

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Groups and their members: GET /groups, /groups/{id}, /groups/{id}/members
// and /groups/{id}/transitiveMembers, optionally cast to
// microsoft.graph.user or microsoft.graph.group — a directoryObject
// collection whose items carry @odata.type (docs/graph.md#users-and-groups). The OData cast needs an advanced query (ConsistencyLevel:
// eventual with $count=true), as the document says.

var groupReadPerms = []string{"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"}

var groupFilterSchema = filterSchema{entity: "microsoft.graph.group", resource: "Group", props: map[string]filterProp{
	"id":              {"id", kindString},
	"displayname":     {"displayName", kindString},
	"mailnickname":    {"mailNickname", kindString},
	"mail":            {"mail", kindString},
	"securityenabled": {"securityEnabled", kindBool},
	"mailenabled":     {"mailEnabled", kindBool},
}}

var defaultGroupProps = []string{"createdDateTime", "description", "displayName", "groupTypes", "id", "mail",
	"mailEnabled", "mailNickname", "securityEnabled", "visibility"}

var groupProps = propIndex(defaultGroupProps...)

// memberProps: $select on a member list may name user or group properties.
var memberProps = func() map[string]string {
	m := maps.Clone(userProps)
	maps.Copy(m, groupProps)
	return m
}()

func groupValue(g *Group, prop string) any {
	switch prop {
	case "id":
		return g.ID.String()
	case "displayName":
		return g.DisplayName
	case "description":
		if g.Description == "" {
			return nil
		}
		return g.Description
	case "mailNickname":
		return g.MailNickname
	case "createdDateTime":
		return g.Created.UTC().Format(time.RFC3339)
	case "groupTypes":
		return []string{}
	case "securityEnabled":
		return true
	case "mailEnabled":
		return false
	}
	return nil // mail, visibility
}

// groupJSON is g with the selected properties that groups have.
func groupJSON(g *Group, sel []string) map[string]any {
	if sel == nil {
		sel = defaultGroupProps
	}
	m := map[string]any{}
	for _, p := range sel {
		if _, ok := groupProps[strings.ToLower(p)]; ok {
			m[p] = groupValue(g, p)
		}
	}
	return m
}

func (s *Sim) groupRoutes(r chi.Router) {
	r.Get("/groups", s.listGroups)
	r.Get("/groups/delta", s.groupsDelta) // groups_delta.go
	r.Get("/groups/delta()", s.groupsDelta)
	r.Get("/groups/{group}", s.getGroup)
	for _, rel := range []string{"members", "transitiveMembers"} {
		r.Get("/groups/{group}/"+rel, s.listMembers(rel, ""))
		r.Get("/groups/{group}/"+rel+"/{cast}", s.listMembers(rel, "cast"))
	}
}

// lookupGroup resolves {group} in the caller's tenant or answers 404.
// s.mu is held for reading.
func (s *Sim) lookupGroupLocked(w http.ResponseWriter, r *http.Request) (*Tenant, *Group) {
	seg := chi.URLParam(r, "group")
	if dec, err := url.PathUnescape(seg); err == nil {
		seg = dec
	}
	t := s.tenants[principal(r).TenantID]
	id, err := uuid.Parse(seg)
	if t == nil || err != nil || t.groups[id] == nil {
		writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", seg))
		return nil, nil
	}
	return t, t.groups[id]
}

func (s *Sim) getGroup(w http.ResponseWriter, r *http.Request) {
	rawSel, sel, ok := s.readEntityQuery(w, r, groupReadPerms, "microsoft.graph.group", groupProps)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, g := s.lookupGroupLocked(w, r)
	if g == nil {
		return
	}
	writeJSON(w, http.StatusOK, entity(s.odataContext(selectContext("groups", rawSel, sel)+"/$entity"), groupJSON(g, sel)))
}

func (s *Sim) listGroups(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	lq, ok := s.readListQuery(w, r, groupReadPerms, groupFilterSchema, groupProps)
	if !ok {
		return
	}
	s.mu.RLock()
	var all []*Group
	if t := s.tenants[p.TenantID]; t != nil {
		for _, g := range t.groups {
			if lq.filter == nil || lq.filter.match(func(prop string) any { return groupValue(g, prop) }) {
				all = append(all, g)
			}
		}
	}
	slices.SortFunc(all, func(a, b *Group) int { return compareUUID(a.ID, b.ID) })
	items := make([]map[string]any, len(all))
	for i, g := range all {
		items[i] = groupJSON(g, lq.sel)
	}
	s.mu.RUnlock()
	s.writePage(w, r, "/v1.0/groups", selectContext("groups", lq.rawSel, lq.sel), lq, items, "")
}

// writePage answers one page of items (the whole list, in order) with
// offset paging; key binds the token to the list it pages.
func (s *Sim) writePage(w http.ResponseWriter, r *http.Request, path, context string, lq listQuery, items []map[string]any, key string) {
	p := principal(r)
	if lq.paged && (lq.token.Tenant != p.TenantID || lq.token.After != key || lq.token.Offset < 0) {
		writeGraphError(w, r, http.StatusBadRequest, "Directory_ExpiredPageToken",
			"The specified page token value has expired and can no longer be included in your request.")
		return
	}
	out := collection{Context: s.odataContext(context), Value: []map[string]any{}}
	if lq.count && !lq.paged {
		n := len(items)
		out.Count = &n
	}
	start := min(lq.token.Offset, len(items))
	end := min(start+lq.top, len(items))
	out.Value = append(out.Value, items[start:end]...)
	if end < len(items) {
		out.NextLink = s.nextLink(r, path, encodeToken(pageToken{Tenant: p.TenantID, After: key, Offset: end}))
	}
	writeJSON(w, http.StatusOK, out)
}

// listMembers serves members or transitiveMembers of a group, cast to one
// type when the route has {cast}.
func (s *Sim) listMembers(rel, castParam string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.admitDirectoryRead(w, r, groupReadPerms) {
			return
		}
		cast := ""
		if castParam != "" {
			cast = chi.URLParam(r, castParam)
			if alias, ok := strings.CutPrefix(cast, "graph."); ok { // Graph accepts the namespace alias msgraph-sdk-go sends
				cast = "microsoft.graph." + alias
			}
			if cast != "microsoft.graph.user" && cast != "microsoft.graph.group" {
				writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", cast))
				return
			}
		}
		lq, qerr := parseListQuery(r, userFilterSchema, memberProps)
		if qerr == nil && (cast != "" || lq.filter != nil) && !lq.advanced {
			qerr = unsupportedFilter("OData cast and $filter on %s need an advanced query: add $count=true and the header ConsistencyLevel: eventual.", rel)
		}
		if qerr != nil {
			writeQueryError(w, r, qerr)
			return
		}
		s.mu.RLock()
		t, g := s.lookupGroupLocked(w, r)
		if g == nil {
			s.mu.RUnlock()
			return
		}
		ids := t.members(g)
		if rel == "transitiveMembers" {
			ids = t.transitive(g)
		}
		var items []map[string]any
		for _, id := range ids {
			if u := t.users[id]; u != nil && (cast == "" || cast == "microsoft.graph.user") {
				if lq.filter == nil || lq.filter.match(userGetter(u)) {
					items = append(items, withType("#microsoft.graph.user", userJSON(u, lq.sel)))
				}
			} else if sub := t.groups[id]; sub != nil && (cast == "" || cast == "microsoft.graph.group") {
				if lq.filter == nil || lq.filter.match(func(prop string) any { return groupValue(sub, prop) }) {
					items = append(items, withType("#microsoft.graph.group", groupJSON(sub, lq.sel)))
				}
			}
		}
		s.mu.RUnlock()
		set := "directoryObjects"
		switch cast {
		case "microsoft.graph.user":
			set = "users"
		case "microsoft.graph.group":
			set = "groups"
		}
		path := "/v1.0/groups/" + g.ID.String() + "/" + rel
		if cast != "" {
			path += "/" + cast
		}
		s.writePage(w, r, path, selectContext(set, lq.rawSel, lq.sel), lq, items, g.ID.String()+"/"+rel)
	}
}

func withType(typ string, m map[string]any) map[string]any {
	m["@odata.type"] = typ
	return m
}
