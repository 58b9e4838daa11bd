package graphsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// How users look on the wire: the default property set and $select
// (docs/graph.md#users-and-groups), opaque page tokens and the sorted
// index that keeps paging stable while the directory changes.

// defaultUserProps is what Graph returns for a user without $select.
var defaultUserProps = []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
	"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}

// userProps are the properties graphsim knows, by lower-cased name.
var userProps = propIndex(append(slices.Clone(defaultUserProps), "accountEnabled", "userType")...)

// propIndex maps lower-cased property names to their spelling, for $select.
func propIndex(names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, p := range names {
		m[strings.ToLower(p)] = p
	}
	return m
}

// userValue is property prop of u as Graph serialises it.
func userValue(u *User, prop string) any {
	given, sur, _ := strings.Cut(u.DisplayName, " ")
	if strings.Contains(sur, " ") || sur == "" {
		given, sur = "", ""
	}
	orNull := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch prop {
	case "id":
		return u.ID.String()
	case "userPrincipalName":
		return u.UPN
	case "mail":
		return orNull(u.Mail)
	case "displayName":
		return u.DisplayName
	case "givenName":
		return orNull(given)
	case "surname":
		return orNull(sur)
	case "accountEnabled":
		return u.Enabled
	case "userType":
		if u.Guest {
			return "Guest"
		}
		return "Member"
	case "businessPhones":
		return []string{}
	case "preferredLanguage":
		return "en-US"
	}
	return nil // jobTitle, mobilePhone, officeLocation: not kept
}

// userJSON is u with the selected properties (the default set when sel is nil).
func userJSON(u *User, sel []string) map[string]any {
	if sel == nil {
		sel = defaultUserProps
	}
	m := make(map[string]any, len(sel)+1)
	for _, p := range sel {
		m[p] = userValue(u, p)
	}
	return m
}

// parseSelect reads $select against known (lower-cased name → spelling):
// nil for the default set, else the canonical names with id always first.
func parseSelect(raw, entity string, known map[string]string) ([]string, *filterError) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	sel := []string{"id"}
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "*" {
			for _, p := range known {
				if !slices.Contains(sel, p) {
					sel = append(sel, p)
				}
			}
			continue
		}
		p, ok := known[strings.ToLower(f)]
		if !ok {
			return nil, badFilter("Parsing OData Select and Expand failed: Could not find a property named '%s' on type '%s'.", f, entity)
		}
		if !slices.Contains(sel, p) {
			sel = append(sel, p)
		}
	}
	slices.Sort(sel[1:])
	return sel, nil
}

// selectContext is the @odata.context fragment for a collection, with the
// $select list as Graph writes it: users(id,mail).
func selectContext(set string, rawSel string, sel []string) string {
	if sel == nil {
		return set
	}
	var names []string
	for _, f := range strings.Split(rawSel, ",") {
		if f = strings.TrimSpace(f); f != "" {
			names = append(names, f)
		}
	}
	return set + "(" + strings.Join(names, ",") + ")"
}

// writeQueryError renders a refused query option.
func writeQueryError(w http.ResponseWriter, r *http.Request, e *filterError) {
	writeGraphError(w, r, e.status, e.code, e.message)
}

// pageToken is the opaque $skiptoken of a collection page. Graph's tokens
// are opaque too; clients must follow @odata.nextLink verbatim.
type pageToken struct {
	Tenant uuid.UUID `json:"t"`
	After  string    `json:"a,omitempty"` // last id returned (keyset paging)
	Offset int       `json:"o,omitempty"` // for short lists (group members)
}

func encodeToken(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 8192 {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v) == nil
}

// nextLink is an absolute URL at the Sim for the next page: the request's
// own query with $skiptoken replaced (docs/graph.md#msgraph-sdk-go: the SDK's page
// iterator follows it as is).
func (s *Sim) nextLink(r *http.Request, path, skiptoken string) string {
	q := r.URL.Query()
	q.Del("$skiptoken")
	q.Set("$skiptoken", skiptoken)
	return s.BaseURL() + path + "?" + encodeQuery(q)
}

// encodeQuery is url.Values.Encode keeping '$', ',', '(' ')' and quotes
// readable, as Graph's links do.
func encodeQuery(q map[string][]string) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(queryEscape(k))
			b.WriteByte('=')
			b.WriteString(queryEscape(v))
		}
	}
	return b.String()
}

func queryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("-_.~$,()'!*:@/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&15, 16)))
	}
	return b.String()
}

// userIndex is a tenant's user ids in order, rebuilt when the set changed.
type userIndex struct {
	ids   []uuid.UUID
	count int  // len(t.users) when built: Apply adds users without telling us
	dirty bool // set when users were removed or restored
}

func (t *Tenant) indexFresh() bool {
	return t.index != nil && !t.index.dirty && t.index.count == len(t.users)
}

// sortedUserIDs returns t's user ids in order. The caller holds s.mu for
// reading; a stale index is rebuilt under the write lock, so the ids may
// name users removed meanwhile: check t.users.
func (s *Sim) sortedUserIDs(t *Tenant) []uuid.UUID {
	if t.indexFresh() {
		return t.index.ids
	}
	s.mu.RUnlock()
	s.mu.Lock()
	ids := t.sortedUserIDsLocked()
	s.mu.Unlock()
	s.mu.RLock()
	return ids
}

// sortedUserIDsLocked is sortedUserIDs with s.mu held for writing.
func (t *Tenant) sortedUserIDsLocked() []uuid.UUID {
	if !t.indexFresh() {
		ids := make([]uuid.UUID, 0, len(t.users))
		for id := range t.users {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, compareUUID)
		t.index = &userIndex{ids: ids, count: len(t.users)}
	}
	return t.index.ids
}

func compareUUID(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// indexAfter is the position in ids just after id.
func indexAfter(ids []uuid.UUID, id uuid.UUID) int {
	i, found := slices.BinarySearchFunc(ids, id, compareUUID)
	if found {
		i++
	}
	return i
}

// markUsersChanged makes the next listing rebuild the index. s.mu is held
// for writing.
func (t *Tenant) markUsersChanged() {
	if t.index != nil {
		t.index.dirty = true
	}
}

// admitDirectoryRead answers 403 unless the caller holds one of perms, or
// 429 when its directory budget is spent.
func (s *Sim) admitDirectoryRead(w http.ResponseWriter, r *http.Request, perms []string) bool {
	return requireScope(w, r, "Authorization_RequestDenied", perms...) && s.admit(w, r, principal(r), classDirectory)
}

// readEntityQuery admits a read of one object and reads its $select.
func (s *Sim) readEntityQuery(w http.ResponseWriter, r *http.Request, perms []string, entity string, props map[string]string) (string, []string, bool) {
	if !s.admitDirectoryRead(w, r, perms) {
		return "", nil, false
	}
	rawSel := r.URL.Query().Get("$select")
	sel, qerr := parseSelect(rawSel, entity, props)
	if qerr != nil {
		writeQueryError(w, r, qerr)
		return "", nil, false
	}
	return rawSel, sel, true
}

// readListQuery admits a read of a collection and reads its query options.
func (s *Sim) readListQuery(w http.ResponseWriter, r *http.Request, perms []string, schema filterSchema, props map[string]string) (listQuery, bool) {
	if !s.admitDirectoryRead(w, r, perms) {
		return listQuery{}, false
	}
	lq, qerr := parseListQuery(r, schema, props)
	if qerr != nil {
		writeQueryError(w, r, qerr)
		return lq, false
	}
	return lq, true
}
