package graphsim

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Groups of a tenant: direct members in order, nested groups allowed, as
// /groups/{id}/members and /transitiveMembers show them
// (docs/graph.md#users-and-groups).

func (t *Tenant) groupMap() map[uuid.UUID]*Group {
	if t.groups == nil {
		t.groups = map[uuid.UUID]*Group{}
	}
	return t.groups
}

// ApplyGroups adds the groups of seed's tenants (the tenants and accounts
// must already exist). It is idempotent: a group already present gains the
// members it lacks, so a seed may be applied again after Apply learned groups.
func (s *Sim) ApplyGroups(seed Seed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range seed.Tenants {
		t := s.tenants[st.ID]
		if t == nil {
			return fmt.Errorf("tenant %s does not exist", st.ID)
		}
		if err := s.applyGroupsLocked(t, st); err != nil {
			return err
		}
	}
	return nil
}

// applyGroupsLocked is Apply's step for a seed tenant's groups: first every
// group, then the members, so groups may name each other in any order.
func (s *Sim) applyGroupsLocked(t *Tenant, st SeedTenant) error {
	made := make([]*Group, len(st.Groups))
	for i, sg := range st.Groups {
		g, err := s.createGroupLocked(t, sg.ID, sg.DisplayName, sg.Description)
		if err != nil {
			return err
		}
		made[i] = g
	}
	for i, sg := range st.Groups {
		for _, m := range sg.Members {
			id, ok := t.memberRef(m)
			if !ok {
				return fmt.Errorf("group %s: no user or group %q in %s", sg.DisplayName, m, t.Domain)
			}
			if err := s.addMemberLocked(t, made[i], id); err != nil && !errors.Is(err, errAlreadyMember) {
				return err
			}
		}
	}
	return nil
}

// createGroupLocked adds a group, or returns the existing one with that id.
func (s *Sim) createGroupLocked(t *Tenant, id uuid.UUID, name, description string) (*Group, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 256 {
		return nil, errors.New("a group needs a display name of 1–256 characters")
	}
	if id == uuid.Nil {
		id = uuid.New()
	}
	if g := t.groupMap()[id]; g != nil {
		return g, nil
	}
	if s.users[id] != nil {
		return nil, fmt.Errorf("id %s is already a user's", id)
	}
	nick := strings.Map(func(r rune) rune {
		if r < 128 && (r == '-' || r == '_' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return r
		}
		return -1
	}, name)
	g := &Group{ID: id, TenantID: t.ID, DisplayName: name, Description: description, MailNickname: nick, Created: s.clock()}
	t.groupMap()[id] = g
	return g, nil
}

var errAlreadyMember = errors.New("already a member")

// memberRef resolves a seed or control-API member reference: a user id or
// UPN, or a group id or display name, in t.
func (t *Tenant) memberRef(ref string) (uuid.UUID, bool) {
	if id, err := uuid.Parse(ref); err == nil {
		if t.users[id] != nil || t.groupMap()[id] != nil {
			return id, true
		}
		return uuid.Nil, false
	}
	if u := t.byUPN[strings.ToLower(ref)]; u != nil {
		return u.ID, true
	}
	for _, g := range t.groupMap() {
		if strings.EqualFold(g.DisplayName, ref) {
			return g.ID, true
		}
	}
	return uuid.Nil, false
}

// addMemberLocked adds a user or group of t to g. A group may not contain
// itself, directly or through others.
func (s *Sim) addMemberLocked(t *Tenant, g *Group, member uuid.UUID) error {
	if slices.Contains(g.Members, member) {
		return errAlreadyMember
	}
	if t.users[member] == nil {
		sub := t.groupMap()[member]
		if sub == nil {
			return fmt.Errorf("no user or group %s in %s", member, t.Domain)
		}
		if sub.ID == g.ID || slices.Contains(t.transitive(sub), g.ID) {
			return fmt.Errorf("adding %s to %s would make a cycle", sub.DisplayName, g.DisplayName)
		}
	}
	g.Members = append(g.Members, member)
	return nil
}

// removeMemberLocked drops member from g, reporting whether it was there.
func removeMemberLocked(g *Group, member uuid.UUID) bool {
	i := slices.Index(g.Members, member)
	if i < 0 {
		return false
	}
	g.Members = slices.Delete(g.Members, i, i+1)
	return true
}

// members are g's direct members that still exist (users deleted since
// drop out, as in Entra).
func (t *Tenant) members(g *Group) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(g.Members))
	for _, id := range g.Members {
		if t.users[id] != nil || t.groupMap()[id] != nil {
			out = append(out, id)
		}
	}
	return out
}

// transitive is every user and group reachable from g, each once, in
// depth-first order of membership.
func (t *Tenant) transitive(g *Group) []uuid.UUID {
	seen := map[uuid.UUID]bool{g.ID: true}
	var out []uuid.UUID
	var walk func(*Group)
	walk = func(g *Group) {
		for _, id := range t.members(g) {
			if seen[id] {
				continue
			}
			seen[id] = true
			out = append(out, id)
			if sub := t.groupMap()[id]; sub != nil {
				walk(sub)
			}
		}
	}
	walk(g)
	return out
}

// dropFromGroupsLocked removes a hard-deleted user from every group.
func (t *Tenant) dropFromGroupsLocked(id uuid.UUID) {
	for _, g := range t.groupMap() {
		removeMemberLocked(g, id)
	}
}
