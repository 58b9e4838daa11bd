package graphsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Users: GET /users/{id | userPrincipalName}, /users('upn'), /me and the
// /users collection with $filter, $select, $top, $count and paging
// (docs/graph.md#users-and-groups, #paging; docs/graph.md#msgraph-sdk-go: msgraph-sdk-go sends
// UPNs percent-encoded, /users/adele%40contoso.com).

// userReadPerms are the permissions that read other users, least
// privileged first (delegated or application).
var userReadPerms = []string{"User.ReadBasic.All", "User.Read.All", "Directory.Read.All"}

// Page sizes of directory collections: default 100, at most 999.
const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// userRoutes serves users, /users/delta and group members.
func (s *Sim) userRoutes(r chi.Router) {
	r.Get("/me", s.getMe)
	r.Get("/users", s.listUsers)
	r.Get("/users/delta", s.usersDelta)
	r.Get("/users/delta()", s.usersDelta)
	r.Get("/users/{user}", s.getUser)
	r.Get("/users({user})", s.getUserByKey)
	s.groupRoutes(r)
}

// entity is one object with its @odata.context.
func entity(context string, props map[string]any) map[string]any {
	props["@odata.context"] = context
	return props
}

// collection is a page of a collection.
type collection struct {
	Context   string           `json:"@odata.context"`
	Count     *int             `json:"@odata.count,omitempty"`
	NextLink  string           `json:"@odata.nextLink,omitempty"`
	DeltaLink string           `json:"@odata.deltaLink,omitempty"`
	Value     []map[string]any `json:"value"`
}

// userSegment is the {user} path segment, percent-decoded: chi matches the
// raw path, so adele%40contoso.com arrives encoded.
func userSegment(r *http.Request) string {
	seg := chi.URLParam(r, "user")
	if dec, err := url.PathUnescape(seg); err == nil {
		return dec
	}
	return seg
}

func (s *Sim) getUser(w http.ResponseWriter, r *http.Request) {
	s.serveUser(w, r, userSegment(r))
}

// getUserByKey serves /users('upn'), the key form for UPNs starting with $.
func (s *Sim) getUserByKey(w http.ResponseWriter, r *http.Request) {
	s.serveUser(w, r, "("+userSegment(r)+")")
}

func (s *Sim) serveUser(w http.ResponseWriter, r *http.Request, seg string) {
	rawSel, sel, ok := s.readEntityQuery(w, r, userReadPerms, "microsoft.graph.user", userProps)
	if !ok {
		return
	}
	u := s.lookupUser(w, r, seg)
	if u == nil {
		return
	}
	s.mu.RLock()
	body := userJSON(u, sel)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, entity(s.odataContext(selectContext("users", rawSel, sel)+"/$entity"), body))
}

func (s *Sim) getMe(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.Delegated() {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
		return
	}
	rawSel, sel, ok := s.readEntityQuery(w, r, append([]string{"User.Read"}, userReadPerms...), "microsoft.graph.user", userProps)
	if !ok {
		return
	}
	s.mu.RLock()
	u := s.users[p.UserID]
	var body map[string]any
	if u != nil {
		body = userJSON(u, sel)
	}
	s.mu.RUnlock()
	if u == nil {
		writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+p.UserID.String()+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	writeJSON(w, http.StatusOK, entity(s.odataContext(selectContext("users", rawSel, sel)+"/$entity"), body))
}

// listQuery is a collection request's query options.
type listQuery struct {
	top      int
	count    bool
	advanced bool // ConsistencyLevel: eventual with $count=true
	rawSel   string
	sel      []string
	filter   filterNode
	token    pageToken
	paged    bool // a $skiptoken was given: not the first page
}

// parseListQuery validates the query options Graph's directory accepts on a
// collection, with Graph's errors for the ones it refuses.
func parseListQuery(r *http.Request, schema filterSchema, props map[string]string) (listQuery, *filterError) {
	q := r.URL.Query()
	lq := listQuery{top: defaultPageSize, rawSel: q.Get("$select")}
	switch c := strings.ToLower(q.Get("$count")); c {
	case "", "false":
	case "true":
		// Without the header the directory refuses $count outright (docs/graph.md#users-and-groups).
		if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
			return lq, &filterError{http.StatusBadRequest, "Request_BadRequest", "$count is not currently supported."}
		}
		lq.count, lq.advanced = true, true
	default:
		return lq, badFilter("Invalid value '%s' for $count: expected true or false.", q.Get("$count"))
	}
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lq, badFilter("Invalid $top value '%s': an integer is expected.", v)
		}
		if n < 1 || n > maxPageSize {
			return lq, &filterError{http.StatusBadRequest, "Request_BadRequest",
				"Invalid page size specified: '" + v + "'. Must be between 1 and 999 inclusive."}
		}
		lq.top = n
	}
	for _, opt := range []string{"$search", "$orderby", "$expand", "$skip"} {
		if q.Has(opt) {
			return lq, unsupportedFilter("The query option '%s' is not supported by this emulator for this resource.", opt)
		}
	}
	var qerr *filterError
	if lq.sel, qerr = parseSelect(lq.rawSel, schema.entity, props); qerr != nil {
		return lq, qerr
	}
	if f := q.Get("$filter"); q.Has("$filter") {
		n, err := parseFilter(f, schema, lq.advanced)
		if err != nil {
			return lq, err.(*filterError)
		}
		lq.filter = n
	}
	if tok := q.Get("$skiptoken"); q.Has("$skiptoken") {
		if !decodeToken(tok, &lq.token) {
			return lq, &filterError{http.StatusBadRequest, "Directory_ExpiredPageToken",
				"The specified page token value has expired and can no longer be included in your request."}
		}
		lq.paged = true
	}
	return lq, nil
}

// userGetter reads u's properties for $filter.
func userGetter(u *User) func(string) any {
	return func(p string) any { return userValue(u, p) }
}

func (s *Sim) listUsers(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !s.admitDirectoryRead(w, r, userReadPerms) {
		return
	}
	lq, qerr := parseListQuery(r, userFilterSchema, userProps)
	if qerr == nil && lq.paged && lq.token.Tenant != p.TenantID {
		qerr = &filterError{http.StatusBadRequest, "Directory_ExpiredPageToken",
			"The specified page token value has expired and can no longer be included in your request."}
	}
	if qerr != nil {
		writeQueryError(w, r, qerr)
		return
	}
	out := collection{Context: s.odataContext(selectContext("users", lq.rawSel, lq.sel)), Value: []map[string]any{}}
	s.mu.RLock()
	t := s.tenants[p.TenantID]
	var ids []uuid.UUID
	if t != nil {
		var indexed bool
		if ids, indexed = t.usersNamedBy(lq.filter); !indexed {
			ids = s.sortedUserIDs(t)
		}
	}
	start := 0
	if lq.paged {
		after, _ := uuid.Parse(lq.token.After)
		start = indexAfter(ids, after)
	}
	matches := func(u *User) bool { return lq.filter == nil || lq.filter.match(userGetter(u)) }
	var last uuid.UUID
	more := false
	for _, id := range ids[start:] {
		u := t.users[id]
		if u == nil || !matches(u) {
			continue
		}
		if len(out.Value) == lq.top {
			more = true
			break
		}
		out.Value = append(out.Value, userJSON(u, lq.sel))
		last = id
	}
	if lq.count && !lq.paged { // @odata.count is on the first page only (docs/graph.md#paging)
		n := 0
		for _, id := range ids {
			if u := t.users[id]; u != nil && matches(u) {
				n++
			}
		}
		out.Count = &n
	}
	s.mu.RUnlock()
	if more {
		out.NextLink = s.nextLink(r, "/v1.0/users", encodeToken(pageToken{Tenant: p.TenantID, After: last.String()}))
	}
	writeJSON(w, http.StatusOK, out)
}
