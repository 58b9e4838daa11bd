package graphsim

import (
	"cmp"
	"hash/maphash"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// GET /groups/delta and /groups/delta() (docs/graph.md#delta-queries;
// https://learn.microsoft.com/en-us/graph/api/group-delta, 2024-10-22, and
// https://learn.microsoft.com/en-us/graph/delta-query-groups):
//   - $select=members (or no $select, or $expand=members) tracks direct
//     membership: each group carries "members@delta", items of only
//     @odata.type and id; a member removed (or deleted) carries
//     "@removed": {"reason": "deleted"}. A group without members in an
//     initial round has no members@delta at all.
//   - $filter=id eq '…' (joined by or, at most 50) follows some groups only.
//   - A big group's members are split over pages, the group appearing again
//     with the next members; clients merge by group id.
//   - Query options go in the first request only and travel in the tokens;
//     links live 7 days like users delta's (syncStateNotFound after).
// Nested groups are members of type #microsoft.graph.group; their own
// members are not expanded.

// groupTracker is a tenant's log of group changes, made the way users
// delta's is (delta.go): each request compares every group with what it
// saw last.
type groupTracker struct {
	seq    uint64
	known  map[uuid.UUID]knownGroup
	log    []groupChange // ascending seq
	pruned uint64
}

type knownGroup struct {
	hash    uint64
	members map[uuid.UUID]bool
}

// groupChange is a change of a group's own properties (member Nil) or of
// one membership.
type groupChange struct {
	seq           uint64
	at            time.Time
	group, member uuid.UUID
	memberIsGroup bool
}

var groupHashSeed = maphash.MakeSeed()

func hashGroup(g *Group) uint64 {
	var h maphash.Hash
	h.SetSeed(groupHashSeed)
	h.WriteString(g.DisplayName)
	h.WriteByte(0)
	h.WriteString(g.Description)
	return h.Sum64()
}

func (t *Tenant) snapshotGroup(g *Group) knownGroup {
	k := knownGroup{hash: hashGroup(g), members: map[uuid.UUID]bool{}}
	for _, id := range t.members(g) {
		k.members[id] = true
	}
	return k
}

// reconcileGroupsLocked brings t's group change log up to date and returns
// the current seq. s.mu is held for writing.
func (t *Tenant) reconcileGroupsLocked(now time.Time) uint64 {
	if t.gtrack == nil {
		// The first request is the baseline: any token includes it.
		t.gtrack = &groupTracker{known: map[uuid.UUID]knownGroup{}}
		for id, g := range t.groupMap() {
			t.gtrack.known[id] = t.snapshotGroup(g)
		}
		return 0
	}
	tr := t.gtrack
	record := func(c groupChange) {
		tr.seq++
		c.seq, c.at = tr.seq, now
		tr.log = append(tr.log, c)
	}
	for id, g := range t.groupMap() {
		cur, old := t.snapshotGroup(g), tr.known[id]
		if old.members == nil || old.hash != cur.hash {
			record(groupChange{group: id})
		}
		for m := range cur.members {
			if !old.members[m] {
				record(groupChange{group: id, member: m, memberIsGroup: t.groupMap()[m] != nil})
			}
		}
		for m := range old.members {
			if !cur.members[m] {
				_, isGroup := t.groupMap()[m]
				record(groupChange{group: id, member: m, memberIsGroup: isGroup})
			}
		}
		tr.known[id] = cur
	}
	cut := 0
	for cut < len(tr.log) && now.Sub(tr.log[cut].at) > deltaTokenLifetime {
		cut++
	}
	if cut > 0 {
		tr.pruned = tr.log[cut-1].seq
		tr.log = append([]groupChange(nil), tr.log[cut:]...)
	}
	return tr.seq
}

// groupDeltaToken is the state inside a groups delta $skiptoken or
// $deltatoken.
type groupDeltaToken struct {
	Tenant  uuid.UUID `json:"t"`
	Kind    string    `json:"k"` // i: initial round page, c: changes page, d: delta link
	Since   uint64    `json:"s"`
	Upto    uint64    `json:"u,omitempty"`
	AfterG  string    `json:"ag,omitempty"` // initial round: last (group, member) sent
	AfterM  string    `json:"am,omitempty"`
	Offset  int       `json:"o,omitempty"` // changes round: entries sent
	Issued  time.Time `json:"at"`
	Sel     string    `json:"sel,omitempty"`
	Members bool      `json:"m,omitempty"`
	IDs     []string  `json:"ids,omitempty"`
	Size    int       `json:"n,omitempty"`
}

// groupDeltaEntry is one unit of a page: a group (member Nil) or one of
// its member items.
type groupDeltaEntry struct {
	group, member uuid.UUID
	memberIsGroup bool
}

func compareEntries(a, b groupDeltaEntry) int {
	return cmp.Or(compareUUID(a.group, b.group), compareUUID(a.member, b.member))
}

func (s *Sim) groupsDelta(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !s.admitDirectoryRead(w, r, groupReadPerms) {
		return
	}
	q := r.URL.Query()
	var tok groupDeltaToken
	switch {
	case q.Has("$skiptoken"), q.Get("$deltatoken") != "":
		raw, skip := q.Get("$skiptoken"), q.Has("$skiptoken")
		if !skip {
			raw = q.Get("$deltatoken")
		}
		if !decodeToken(raw, &tok) || tok.Tenant != p.TenantID || !validKind(deltaToken{Kind: tok.Kind}, skip) {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "The delta or skip token is not valid for this request.")
			return
		}
	default:
		var qerr *filterError
		if tok, qerr = newGroupDeltaRound(r, p.TenantID, s.clock()); qerr != nil {
			writeQueryError(w, r, qerr)
			return
		}
	}
	if n, ok := preferPageSize(r); ok {
		tok.Size = n
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(n))
	}
	size := cmp.Or(tok.Size, defaultPageSize)
	sel, _ := parseSelect(groupSelect(tok.Sel), "microsoft.graph.group", groupProps) // checked when the round began
	now := s.clock()

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[p.TenantID]
	if t == nil || tok.Kind != "i" && tok.Kind != "" && (now.Sub(tok.Issued) > deltaTokenLifetime || t.gtrack == nil || tok.Since < t.gtrack.pruned) {
		writeSyncStateNotFound(w, r)
		return
	}
	current := t.reconcileGroupsLocked(now)
	var entries []groupDeltaEntry
	next := false
	switch tok.Kind {
	case "", "i":
		if tok.Kind == "" {
			tok.Kind, tok.Since = "i", current
		}
		all := t.currentGroupEntries(tok)
		after := groupDeltaEntry{group: uuid.MustParse(cmp.Or(tok.AfterG, uuid.Nil.String())), member: uuid.MustParse(cmp.Or(tok.AfterM, uuid.Nil.String()))}
		start := 0
		if tok.AfterG != "" {
			start, _ = slices.BinarySearchFunc(all, after, compareEntries)
			if start < len(all) && compareEntries(all[start], after) == 0 {
				start++
			}
		}
		end := min(start+size, len(all))
		entries, next = all[start:end], end < len(all)
		if next {
			last := all[end-1]
			tok.AfterG, tok.AfterM = last.group.String(), last.member.String()
		}
		current = tok.Since // changes made while paging come again in the next round
	default:
		if tok.Kind == "d" {
			tok.Kind, tok.Upto, tok.Offset = "c", current, 0
		}
		all := t.gtrack.changedEntries(tok)
		end := min(tok.Offset+size, len(all))
		entries, next = all[min(tok.Offset, len(all)):end], end < len(all)
		tok.Offset = end
		current = tok.Upto
	}
	out := collection{Context: s.odataContext("groups"), Value: t.renderGroupEntries(entries, sel, tok.Members)}
	if next {
		out.NextLink = s.BaseURL() + "/v1.0/groups/delta?$skiptoken=" + encodeToken(tok)
	} else {
		link := groupDeltaToken{Tenant: p.TenantID, Kind: "d", Since: current, Issued: now, Sel: tok.Sel, Members: tok.Members, IDs: tok.IDs}
		out.DeltaLink = s.BaseURL() + "/v1.0/groups/delta?$deltatoken=" + encodeToken(link)
	}
	writeJSON(w, http.StatusOK, out)
}

// newGroupDeltaRound reads the query options of an initial request.
func newGroupDeltaRound(r *http.Request, tenant uuid.UUID, now time.Time) (groupDeltaToken, *filterError) {
	q := r.URL.Query()
	tok := groupDeltaToken{Tenant: tenant, Issued: now, Sel: q.Get("$select")}
	for _, opt := range []string{"$top", "$orderby", "$search", "$count"} {
		if q.Has(opt) {
			return tok, unsupportedFilter("The query option '%s' is not supported with delta queries.", opt)
		}
	}
	switch exp := strings.TrimSpace(q.Get("$expand")); {
	case exp == "" && strings.TrimSpace(tok.Sel) == "":
		tok.Members = true // no $select: members@delta comes by default
	case strings.EqualFold(exp, "members"):
		tok.Members = true
	case exp != "":
		return tok, unsupportedFilter("Only $expand=members is supported with groups delta.")
	}
	for _, f := range strings.Split(tok.Sel, ",") {
		if strings.EqualFold(strings.TrimSpace(f), "members") {
			tok.Members = true
		}
	}
	if _, err := parseSelect(groupSelect(tok.Sel), "microsoft.graph.group", groupProps); err != nil {
		return tok, err
	}
	var ferr *filterError
	tok.IDs, ferr = deltaFilterIDs(q, groupFilterSchema)
	return tok, ferr
}

// groupSelect is $select without the relationship "members", which is
// rendered as members@delta rather than as a property. Only "members"
// selected means only the id.
func groupSelect(raw string) string {
	var keep []string
	members := false
	for _, f := range strings.Split(raw, ",") {
		switch f = strings.TrimSpace(f); {
		case strings.EqualFold(f, "members"):
			members = true
		case f != "":
			keep = append(keep, f)
		}
	}
	if len(keep) == 0 && members {
		return "id"
	}
	return strings.Join(keep, ",")
}

func (tok groupDeltaToken) wants(id uuid.UUID) bool {
	if len(tok.IDs) == 0 {
		return true
	}
	return slices.ContainsFunc(tok.IDs, func(x string) bool { return strings.EqualFold(x, id.String()) })
}

// currentGroupEntries is an initial round in page order: each wanted
// group, then its direct members, by id.
func (t *Tenant) currentGroupEntries(tok groupDeltaToken) []groupDeltaEntry {
	var out []groupDeltaEntry
	for id, g := range t.groupMap() {
		if !tok.wants(id) {
			continue
		}
		out = append(out, groupDeltaEntry{group: id})
		if !tok.Members {
			continue
		}
		for _, m := range t.members(g) {
			out = append(out, groupDeltaEntry{group: id, member: m, memberIsGroup: t.groupMap()[m] != nil})
		}
	}
	slices.SortFunc(out, compareEntries)
	return out
}

// changedEntries are the changes of a round, each (group, member) once.
func (tr *groupTracker) changedEntries(tok groupDeltaToken) []groupDeltaEntry {
	seen := map[groupDeltaEntry]bool{}
	var out []groupDeltaEntry
	for _, c := range tr.log {
		e := groupDeltaEntry{group: c.group, member: c.member, memberIsGroup: c.memberIsGroup}
		if c.seq <= tok.Since || c.seq > tok.Upto || seen[e] || !tok.wants(c.group) || (c.member != uuid.Nil && !tok.Members) {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	slices.SortFunc(out, compareEntries)
	return out
}

// renderGroupEntries turns a page of entries into group objects, one per
// run of entries of the same group. A member item says whether the member
// is in the group now: present, or @removed.
func (t *Tenant) renderGroupEntries(entries []groupDeltaEntry, sel []string, members bool) []map[string]any {
	out := []map[string]any{}
	var cur map[string]any
	var curID uuid.UUID
	for _, e := range entries {
		g := t.groupMap()[e.group]
		if cur == nil || curID != e.group {
			if g == nil {
				cur = map[string]any{"id": e.group.String(), "@removed": map[string]any{"reason": "deleted"}}
			} else {
				cur = groupJSON(g, sel)
				cur["id"] = g.ID.String()
			}
			curID = e.group
			out = append(out, cur)
		}
		if e.member == uuid.Nil || !members {
			continue
		}
		typ := "#microsoft.graph.user"
		if e.memberIsGroup {
			typ = "#microsoft.graph.group"
		}
		item := map[string]any{"@odata.type": typ, "id": e.member.String()}
		if g == nil || !slices.Contains(t.members(g), e.member) {
			item["@removed"] = map[string]any{"reason": "deleted"}
		}
		list, _ := cur["members@delta"].([]map[string]any)
		cur["members@delta"] = append(list, item)
	}
	return out
}
