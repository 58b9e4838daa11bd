package graphsim

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// presenceResource is a parsed presence subscription resource
// (docs/graph.md#presence-subscriptions): one user (communications/presences/{id}) or up to 650
// (communications/presences?$filter=id in ('a','b')).
type presenceResource struct {
	IDs  []uuid.UUID // distinct, in the order given
	Bulk bool
}

// errNotPresence is a resource that does not name presences at all: the
// caller decides whether another workload serves it.
var errNotPresence = errors.New("not a presence resource")

// parsePresenceResource reads the spellings Microsoft documents and sends:
// with or without a leading slash, quoted ('id') or unquoted ids, and the
// URL-encoded form Graph echoes in notifications
// (communications/presences?$filter=id+in+(%27{id}%27)). It never panics
// and rejects anything it does not understand with a message fit for the
// caller. The limit of 650 distinct ids is enforced by the caller, which
// knows the error Graph answers.
func parsePresenceResource(raw string) (presenceResource, error) {
	var res presenceResource
	s := strings.TrimSpace(raw)
	if strings.ContainsAny(s, "%+") {
		dec, err := url.QueryUnescape(s)
		if err != nil {
			return res, fmt.Errorf("the resource is not correctly URL-encoded")
		}
		s = strings.TrimSpace(dec)
	}
	s = strings.TrimPrefix(s, "/")
	const prefix = "communications/presences"
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return res, errNotPresence
	}
	rest := s[len(prefix):]
	switch {
	case strings.HasPrefix(rest, "/"):
		id, err := parseFilterID(rest[1:])
		if err != nil {
			return res, err
		}
		res.IDs = []uuid.UUID{id}
		return res, nil
	case strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")"): // communications/presences('id'), older payloads
		id, err := parseFilterID(rest[1 : len(rest)-1])
		if err != nil {
			return res, err
		}
		res.IDs = []uuid.UUID{id}
		return res, nil
	case strings.HasPrefix(rest, "?"):
		ids, err := parsePresenceFilter(rest[1:])
		if err != nil {
			return res, err
		}
		res.IDs, res.Bulk = ids, true
		return res, nil
	case rest == "":
		return res, errors.New("a presence subscription must name users: communications/presences/{id} or communications/presences?$filter=id in ('{id}')")
	}
	return res, errNotPresence
}

// parsePresenceFilter reads "$filter=id in ('a', 'b')". $select and other
// options are not supported on presence subscriptions (docs/graph.md#presence-subscriptions).
func parsePresenceFilter(q string) ([]uuid.UUID, error) {
	key, expr, ok := strings.Cut(q, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(key), "$filter") {
		return nil, errors.New("only $filter=id in (...) is supported on presence subscriptions")
	}
	if strings.Contains(expr, "&") {
		return nil, errors.New("query options other than $filter are not supported on presence subscriptions")
	}
	expr = strings.TrimSpace(expr)
	field, list, ok := cutSpace(expr)
	if !ok || !strings.EqualFold(field, "id") {
		return nil, errors.New("the filter must be: id in ('{id}', '{id}', ...)")
	}
	op, list, ok := cutSpace(strings.TrimSpace(list))
	if !ok && len(list) == 0 && len(op) > 2 && strings.EqualFold(op[:2], "in") { // "in(...)"
		op, list, ok = op[:2], op[2:], true
	}
	if !ok || !strings.EqualFold(op, "in") {
		return nil, errors.New("the filter must be: id in ('{id}', '{id}', ...)")
	}
	list = strings.TrimSpace(list)
	if len(list) < 2 || list[0] != '(' || list[len(list)-1] != ')' {
		return nil, errors.New("the id list must be enclosed in parentheses")
	}
	inner := strings.TrimSpace(list[1 : len(list)-1])
	if inner == "" {
		return nil, errors.New("the filter names no user ids")
	}
	seen := map[uuid.UUID]bool{}
	var ids []uuid.UUID
	for part := range strings.SplitSeq(inner, ",") {
		id, err := parseFilterID(part)
		if err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// parseFilterID reads one id: a GUID, optionally in single quotes.
func parseFilterID(v string) (uuid.UUID, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = strings.TrimSpace(v[1 : len(v)-1])
	}
	// uuid.Parse also takes urn:uuid: and {braced} forms; Graph wants the
	// plain 36-character form.
	if len(v) != 36 {
		return uuid.Nil, fmt.Errorf("'%s' is not a valid user id: user ids must be GUIDs", truncate(v, 64))
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, fmt.Errorf("'%s' is not a valid user id: user ids must be GUIDs", truncate(v, 64))
	}
	return id, nil
}

// cutSpace splits at the first run of white space.
func cutSpace(s string) (before, after string, found bool) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "", false
	}
	return s[:i], strings.TrimLeft(s[i:], " \t"), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// canonical is the resource as Graph stores it, for duplicate detection:
// the same users in the same order are the same resource however spelled.
func (p presenceResource) canonical() string {
	if !p.Bulk {
		return "communications/presences/" + p.IDs[0].String()
	}
	var b strings.Builder
	b.WriteString("communications/presences?$filter=id in (")
	for i, id := range p.IDs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("'" + id.String() + "'")
	}
	b.WriteString(")")
	return b.String()
}

// sameAs says whether p and q have the same canonical form (the same ids
// in the same order, both bulk or both not) without writing it: every new
// subscription is compared with every live one, and writing 650 ids each
// time made a cold start's subscriptions quadratic in graphsim's CPU (16 %
// of it at 254 subscriptions; a million users take 2,540).
func (p presenceResource) sameAs(q presenceResource) bool {
	if p.Bulk != q.Bulk {
		return false
	}
	if !p.Bulk {
		return len(p.IDs) > 0 && len(q.IDs) > 0 && p.IDs[0] == q.IDs[0]
	}
	return slices.Equal(p.IDs, q.IDs)
}

// notificationResource is the resource a change notification for user
// carries: Graph echoes the bulk form URL-encoded with the one user
// (docs/graph.md#presence-subscriptions, docs/graph.md#notification-payload), the single form as subscribed.
func (p presenceResource) notificationResource(user uuid.UUID) string {
	if p.Bulk {
		return "communications/presences?$filter=id+in+(%27" + user.String() + "%27)"
	}
	return "communications/presences/" + user.String()
}
