package graphsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// GET /users/delta and /users/delta() — msgraph-sdk-go calls the function
// form (docs/graph.md#msgraph-sdk-go). The initial round pages through every user
// and ends with an @odata.deltaLink; a later round with that link returns
// only users added, changed or removed since, removed ones as
// {"id","@removed":{"reason":"changed"|"deleted"}} (changed: soft-deleted,
// restorable; deleted: permanently). $select and $filter=id eq '…' are
// allowed on the initial request only and travel inside the tokens (docs/graph.md#delta-queries).

// maxDeltaIDs: a delta $filter names at most 50 ids (docs/graph.md#delta-queries).
const maxDeltaIDs = 50

// deltaToken is the state inside $skiptoken and $deltatoken.
type deltaToken struct {
	Tenant uuid.UUID `json:"t"`
	Kind   string    `json:"k"` // i: initial round page, c: changes page, d: delta link
	Since  uint64    `json:"s"`
	Upto   uint64    `json:"u,omitempty"`
	After  string    `json:"a,omitempty"`
	Offset int       `json:"o,omitempty"`
	Issued time.Time `json:"at"`
	Sel    string    `json:"sel,omitempty"`
	IDs    []string  `json:"ids,omitempty"`
	Size   int       `json:"n,omitempty"`
}

// syncStateNotFound is what the directory answers for a delta token older
// than 7 days: 400 with this code and message (Microsoft 365 developer blog
// 2020-07-03, cited in docs/graph.md#delta-queries). graphsim answers it too for tokens whose
// changes it no longer holds.
func writeSyncStateNotFound(w http.ResponseWriter, r *http.Request) {
	writeGraphError(w, r, http.StatusBadRequest, "syncStateNotFound",
		"The sync state generation is not found. The delta token is expired and data must be synchronized again.")
}

func (s *Sim) usersDelta(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !s.admitDirectoryRead(w, r, userReadPerms) {
		return
	}
	q := r.URL.Query()
	var tok deltaToken
	switch {
	case q.Has("$skiptoken"), q.Has("$deltatoken") && q.Get("$deltatoken") != "" && q.Get("$deltatoken") != "latest":
		raw := q.Get("$skiptoken")
		if raw == "" {
			raw = q.Get("$deltatoken")
		}
		if !decodeToken(raw, &tok) || tok.Tenant != p.TenantID || !validKind(tok, q.Has("$skiptoken")) {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "The delta or skip token is not valid for this request.")
			return
		}
	default:
		// A first request (an empty $deltatoken too: a full resync).
		var qerr *filterError
		if tok, qerr = newDeltaRound(r, p.TenantID, s.clock()); qerr != nil {
			writeQueryError(w, r, qerr)
			return
		}
	}
	if n, ok := preferPageSize(r); ok {
		tok.Size = n
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(n))
	}
	sel, _ := parseSelect(tok.Sel, "microsoft.graph.user", userProps) // checked when the round began
	now := s.clock()

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[p.TenantID]
	if t == nil {
		writeSyncStateNotFound(w, r)
		return
	}
	if tok.Kind != "i" && tok.Kind != "" && (now.Sub(tok.Issued) > deltaTokenLifetime || t.track == nil || tok.Since < t.track.pruned) {
		writeSyncStateNotFound(w, r)
		return
	}
	current := t.reconcileLocked(now)
	out := collection{Context: s.odataContext(selectContext("users", tok.Sel, sel)), Value: []map[string]any{}}
	wanted := func(id uuid.UUID) bool {
		if len(tok.IDs) == 0 {
			return true
		}
		for _, x := range tok.IDs {
			if strings.EqualFold(x, id.String()) {
				return true
			}
		}
		return false
	}
	size := tok.Size
	if size == 0 {
		size = defaultPageSize
	}
	switch {
	case q.Get("$deltatoken") == "latest" && !q.Has("$skiptoken"):
		// "Sync from now": no users, only a link for the changes to come.
	case tok.Kind == "" || tok.Kind == "i":
		if tok.Kind == "" {
			tok.Kind, tok.Since = "i", current
		}
		ids := t.sortedUserIDsLocked()
		after, _ := uuid.Parse(tok.After)
		start := 0
		if tok.After != "" {
			start = indexAfter(ids, after)
		}
		for _, id := range ids[start:] {
			u := t.users[id]
			if u == nil || !wanted(id) {
				continue
			}
			if len(out.Value) == size {
				tok.After = after.String()
				out.NextLink = s.BaseURL() + "/v1.0/users/delta?$skiptoken=" + encodeToken(tok)
				break
			}
			out.Value = append(out.Value, userJSON(u, sel))
			after = id
		}
		current = tok.Since // the next round starts where this one began: changes made while paging come again
	default: // a round of changes: from a delta link (d) or a page of it (c)
		if tok.Kind == "d" {
			tok.Kind, tok.Upto, tok.Offset = "c", current, 0
		}
		var changed []uuid.UUID
		for _, id := range t.track.changedSince(tok.Since, tok.Upto) {
			if wanted(id) {
				changed = append(changed, id)
			}
		}
		end := min(tok.Offset+size, len(changed))
		for _, id := range changed[min(tok.Offset, len(changed)):end] {
			out.Value = append(out.Value, deltaItem(t, id, sel))
		}
		if end < len(changed) {
			tok.Offset = end
			out.NextLink = s.BaseURL() + "/v1.0/users/delta?$skiptoken=" + encodeToken(tok)
		}
		current = tok.Upto
	}
	if out.NextLink == "" {
		link := deltaToken{Tenant: p.TenantID, Kind: "d", Since: current, Issued: now, Sel: tok.Sel, IDs: tok.IDs}
		out.DeltaLink = s.BaseURL() + "/v1.0/users/delta?$deltatoken=" + encodeToken(link)
	}
	writeJSON(w, http.StatusOK, out)
}

func validKind(tok deltaToken, skip bool) bool {
	if skip {
		return tok.Kind == "i" || tok.Kind == "c"
	}
	return tok.Kind == "d"
}

// deltaItem is a changed user as a delta round shows it.
func deltaItem(t *Tenant, id uuid.UUID, sel []string) map[string]any {
	if u := t.users[id]; u != nil {
		return userJSON(u, sel)
	}
	reason := "deleted"
	if t.deleted[id] != nil {
		reason = "changed"
	}
	return map[string]any{"id": id.String(), "@removed": map[string]any{"reason": reason}}
}

// newDeltaRound reads the query options of an initial delta request.
func newDeltaRound(r *http.Request, tenant uuid.UUID, now time.Time) (deltaToken, *filterError) {
	q := r.URL.Query()
	tok := deltaToken{Tenant: tenant, Issued: now, Sel: q.Get("$select")}
	for _, opt := range []string{"$top", "$orderby", "$expand", "$search", "$count"} {
		if q.Has(opt) {
			return tok, unsupportedFilter("The query option '%s' is not supported with delta queries.", opt)
		}
	}
	if _, err := parseSelect(tok.Sel, "microsoft.graph.user", userProps); err != nil {
		return tok, err
	}
	var ferr *filterError
	tok.IDs, ferr = deltaFilterIDs(q, userFilterSchema)
	return tok, ferr
}

// deltaFilterIDs reads a delta query's $filter (none: nil). It is parsed
// as an advanced query so that up to 50 or-ed ids pass; only id eq '…'
// joined by or is accepted.
func deltaFilterIDs(q url.Values, schema filterSchema) ([]string, *filterError) {
	if !q.Has("$filter") {
		return nil, nil
	}
	n, err := parseFilter(q.Get("$filter"), schema, true)
	if err != nil {
		return nil, err.(*filterError)
	}
	var ids []string
	if !collectDeltaIDs(n, &ids) {
		return nil, unsupportedFilter("Delta queries accept only $filter=id eq '{id}', joined by 'or'.")
	}
	if len(ids) > maxDeltaIDs {
		return nil, unsupportedFilter("Too many ids in the delta filter: %d. Max allowed: %d.", len(ids), maxDeltaIDs)
	}
	return ids, nil
}

func collectDeltaIDs(n filterNode, ids *[]string) bool {
	switch x := n.(type) {
	case cmpNode:
		if x.prop != "id" || x.ne || x.val.isBool || x.val.isNull {
			return false
		}
		*ids = append(*ids, x.val.s)
		return true
	case boolNode:
		return x.or && collectDeltaIDs(x.l, ids) && collectDeltaIDs(x.r, ids)
	}
	return false
}

// preferPageSize reads Prefer: odata.maxpagesize=N, which tests use to page
// small directories.
func preferPageSize(r *http.Request) (int, bool) {
	for _, v := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(k, "odata.maxpagesize") {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err == nil && n >= 1 {
				return min(n, maxPageSize), true
			}
		}
	}
	return 0, false
}
