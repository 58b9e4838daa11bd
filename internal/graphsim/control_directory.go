package graphsim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Directory changes an admin would make — users added, deleted (soft: to
// deleted items, restorable; or permanently), restored and renamed, groups
// created and their members changed — as Go methods and as JSON under
// /_sim. /users/delta reports each of them.

// directoryControlRoutes: groups and directory changes (users added, removed, renamed).
func (s *Sim) directoryControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"POST", "/tenants/{id}/users", `{"upn": "new.person@contoso-1.example", "displayName": "New Person", "password": "Pass-1"}`,
			"add an account to the tenant (id optional, generated); 201 with it", s.ctlAddUser},
		{"DELETE", "/users/{id}", "", "delete an account to deleted items (restorable); ?permanent=true for good", s.ctlDeleteUser},
		{"POST", "/users/{id}/restore", "", "restore an account from deleted items", s.ctlRestoreUser},
		{"POST", "/users/{id}/rename", `{"upn": "adele.vance2@contoso-1.example", "displayName": "Adele Vance", "mail": "adele@contoso-1.example"}`,
			"change an account's UPN (in its domain), display name or mail; empty fields stay", s.ctlRenameUser},
		{"PUT", "/users/{id}/roles", `{"roles": ["62e90394-69f5-4237-9190-012177145e10"]}`,
			"assign the account's directory roles by template id (replacing any): Global Administrator 62e90394-…, Privileged Role Administrator e8611ab8-… may grant admin consent; listed in the wids claim of apps whose groupMembershipClaims asks", s.ctlSetRoles},
		{"GET", "/tenants/{id}/groups", "", "the tenant's groups with their direct members' ids", s.ctlListGroups},
		{"POST", "/tenants/{id}/groups", `{"displayName": "Support agents", "description": "", "members": ["adele.vance@contoso-1.example"]}`,
			"create a security group; members by UPN, user id, or a group's id or name; 201 with it", s.ctlCreateGroup},
		{"POST", "/groups/{id}/members", `{"member": "alex.vance@contoso-1.example"}`, "add a member (UPN, id or group name) to a group", s.ctlAddMember},
		{"DELETE", "/groups/{id}/members/{member}", "", "remove a direct member ({member}: its id) from a group", s.ctlRemoveMember},
		{"PUT", "/apps/{clientId}/home-tenant", `{"tenantId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}`,
			"the tenant the app is registered in: only its tokens read the application object", s.ctlSetHomeTenant},
	}
}

// ErrNotFound is returned by the directory methods for an unknown id.
var ErrNotFound = errors.New("not found")

// AddUser creates an account in tenant; an empty ID is generated.
func (s *Sim) AddUser(tenant uuid.UUID, su SeedUser) (SeedUser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenant]
	if t == nil {
		return su, fmt.Errorf("tenant %s: %w", tenant, ErrNotFound)
	}
	if su.ID == uuid.Nil {
		su.ID = uuid.New()
	}
	if t.deleted[su.ID] != nil {
		return su, fmt.Errorf("user id %s is in deleted items", su.ID)
	}
	if err := s.addUserLocked(t, su, false); err != nil {
		return su, err
	}
	return su, nil
}

// DeleteUser deletes an account. Soft deletion moves it to deleted items
// (delta: @removed reason "changed"); permanent deletion, also of a
// soft-deleted account, removes it for good (reason "deleted") and from
// every group.
func (s *Sim) DeleteUser(id uuid.UUID, permanent bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tenants {
		u := t.users[id]
		if u == nil {
			u = t.deleted[id]
		}
		if u == nil {
			continue
		}
		delete(t.users, id)
		delete(t.byUPN, strings.ToLower(u.UPN))
		delete(s.users, id)
		t.markUsersChanged()
		// Refresh tokens hold the account itself: a deleted account
		// must not sign in, which the token endpoint checks as "disabled".
		u.Enabled = false
		if permanent {
			delete(t.deleted, id)
			t.dropFromGroupsLocked(id)
			return nil
		}
		if t.deleted == nil {
			t.deleted = map[uuid.UUID]*User{}
		}
		t.deleted[id] = u
		return nil
	}
	return fmt.Errorf("user %s: %w", id, ErrNotFound)
}

// RestoreUser brings a soft-deleted account back, enabled, with its
// group memberships.
func (s *Sim) RestoreUser(id uuid.UUID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tenants {
		u := t.deleted[id]
		if u == nil {
			continue
		}
		if t.byUPN[strings.ToLower(u.UPN)] != nil {
			return fmt.Errorf("another user now has the UPN %s", u.UPN)
		}
		delete(t.deleted, id)
		u.Enabled = true
		t.users[id], t.byUPN[strings.ToLower(u.UPN)], s.users[id] = u, u, u
		t.markUsersChanged()
		return nil
	}
	return fmt.Errorf("deleted user %s: %w", id, ErrNotFound)
}

// UserRename changes an account's names; empty fields stay as they are.
type UserRename struct {
	UPN         string `json:"upn,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Mail        string `json:"mail,omitempty"`
}

// RenameUser changes an account's UPN (within its tenant's domain),
// display name or mail.
func (s *Sim) RenameUser(id uuid.UUID, ch UserRename) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	t := s.tenants[u.TenantID]
	if ch.UPN != "" && !strings.EqualFold(ch.UPN, u.UPN) {
		if !strings.HasSuffix(strings.ToLower(ch.UPN), "@"+strings.ToLower(t.Domain)) {
			return fmt.Errorf("UPN %s is not in the tenant's domain %s", ch.UPN, t.Domain)
		}
		if t.byUPN[strings.ToLower(ch.UPN)] != nil {
			return fmt.Errorf("user %s already exists", ch.UPN)
		}
		delete(t.byUPN, strings.ToLower(u.UPN))
		u.UPN = ch.UPN
		t.byUPN[strings.ToLower(u.UPN)] = u
	}
	if ch.DisplayName != "" {
		u.DisplayName = ch.DisplayName
	}
	if ch.Mail != "" {
		u.Mail = ch.Mail
	}
	return nil
}

// CreateGroup adds a group to tenant with the members named (UPNs or ids).
func (s *Sim) CreateGroup(tenant uuid.UUID, sg SeedGroup) (SeedGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenant]
	if t == nil {
		return sg, fmt.Errorf("tenant %s: %w", tenant, ErrNotFound)
	}
	if sg.ID != uuid.Nil && t.groupMap()[sg.ID] != nil {
		return sg, fmt.Errorf("group %s already exists", sg.ID)
	}
	ids := make([]uuid.UUID, 0, len(sg.Members))
	for _, m := range sg.Members {
		id, ok := t.memberRef(m)
		if !ok {
			return sg, fmt.Errorf("no user or group %q in %s", m, t.Domain)
		}
		ids = append(ids, id)
	}
	g, err := s.createGroupLocked(t, sg.ID, sg.DisplayName, sg.Description)
	if err != nil {
		return sg, err
	}
	for _, id := range ids {
		if err := s.addMemberLocked(t, g, id); err != nil && !errors.Is(err, errAlreadyMember) {
			delete(t.groups, g.ID)
			return sg, err
		}
	}
	return seedGroupOf(g), nil
}

func seedGroupOf(g *Group) SeedGroup {
	sg := SeedGroup{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description, Members: []string{}}
	for _, id := range g.Members {
		sg.Members = append(sg.Members, id.String())
	}
	return sg
}

// groupLocked finds a group in any tenant.
func (s *Sim) groupLocked(id uuid.UUID) (*Tenant, *Group) {
	for _, t := range s.tenants {
		if g := t.groups[id]; g != nil {
			return t, g
		}
	}
	return nil, nil
}

// AddGroupMember adds a user or group (UPN, id or group name) to a group.
func (s *Sim) AddGroupMember(group uuid.UUID, member string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, g := s.groupLocked(group)
	if g == nil {
		return fmt.Errorf("group %s: %w", group, ErrNotFound)
	}
	id, ok := t.memberRef(member)
	if !ok {
		return fmt.Errorf("member %q: %w", member, ErrNotFound)
	}
	return s.addMemberLocked(t, g, id)
}

// RemoveGroupMember removes a direct member from a group.
func (s *Sim) RemoveGroupMember(group, member uuid.UUID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, g := s.groupLocked(group)
	if g == nil {
		return fmt.Errorf("group %s: %w", group, ErrNotFound)
	}
	if !removeMemberLocked(g, member) {
		return fmt.Errorf("member %s of %s: %w", member, group, ErrNotFound)
	}
	return nil
}

// Groups lists a tenant's groups with their direct members' ids.
func (s *Sim) Groups(tenant uuid.UUID) []SeedGroup {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []SeedGroup{}
	if t := s.tenants[tenant]; t != nil {
		for _, g := range t.groups {
			out = append(out, seedGroupOf(g))
		}
	}
	slices.SortFunc(out, func(a, b SeedGroup) int { return strings.Compare(a.DisplayName, b.DisplayName) })
	return out
}

// SetAppHomeTenant records where an app is registered: only tokens for
// that tenant read its application object (docs/identity.md#granted-permissions).
func (s *Sim) SetAppHomeTenant(clientID string, tenant uuid.UUID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[clientID]
	if app == nil {
		return fmt.Errorf("app %s: %w", clientID, ErrNotFound)
	}
	if tenant != uuid.Nil && s.tenants[tenant] == nil {
		return fmt.Errorf("tenant %s: %w", tenant, ErrNotFound)
	}
	app.HomeTenantID = tenant
	return nil
}

// ctlStatus maps a directory method's error to the control API's status.
func ctlStatus(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrNotFound) {
		ctlFail(w, http.StatusNotFound, "%v", err)
		return
	}
	ctlFail(w, http.StatusConflict, "%v", err)
}

func ctlID(w http.ResponseWriter, r *http.Request, param string) (uuid.UUID, bool) {
	id, err := uuid.Parse(chi.URLParam(r, param))
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "%s must be a GUID", param)
		return uuid.Nil, false
	}
	return id, true
}

func (s *Sim) ctlAddUser(w http.ResponseWriter, r *http.Request) {
	tenant, ok := ctlID(w, r, "id")
	var su SeedUser
	if !ok || !decode(w, r, &su) {
		return
	}
	if su.UPN == "" {
		ctlFail(w, http.StatusBadRequest, "upn is required")
		return
	}
	su, err := s.AddUser(tenant, su)
	if err != nil {
		ctlStatus(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, su)
}

func (s *Sim) ctlDeleteUser(w http.ResponseWriter, r *http.Request) {
	id, ok := ctlID(w, r, "id")
	if !ok {
		return
	}
	if err := s.DeleteUser(id, r.URL.Query().Get("permanent") == "true"); err != nil {
		ctlStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlRestoreUser(w http.ResponseWriter, r *http.Request) {
	id, ok := ctlID(w, r, "id")
	if !ok {
		return
	}
	if err := s.RestoreUser(id); err != nil {
		ctlStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlRenameUser(w http.ResponseWriter, r *http.Request) {
	id, ok := ctlID(w, r, "id")
	var ch UserRename
	if !ok || !decode(w, r, &ch) {
		return
	}
	if err := s.RenameUser(id, ch); err != nil {
		ctlStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlListGroups(w http.ResponseWriter, r *http.Request) {
	tenant, ok := ctlID(w, r, "id")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.Groups(tenant))
}

func (s *Sim) ctlCreateGroup(w http.ResponseWriter, r *http.Request) {
	tenant, ok := ctlID(w, r, "id")
	var sg SeedGroup
	if !ok || !decode(w, r, &sg) {
		return
	}
	sg, err := s.CreateGroup(tenant, sg)
	if err != nil {
		ctlStatus(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, sg)
}

func (s *Sim) ctlAddMember(w http.ResponseWriter, r *http.Request) {
	group, ok := ctlID(w, r, "id")
	var body struct {
		Member string `json:"member"`
	}
	if !ok || !decode(w, r, &body) {
		return
	}
	if err := s.AddGroupMember(group, body.Member); err != nil {
		ctlStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlRemoveMember(w http.ResponseWriter, r *http.Request) {
	group, ok := ctlID(w, r, "id")
	member, ok2 := uuid.Parse(chi.URLParam(r, "member"))
	if !ok {
		return
	}
	if ok2 != nil {
		ctlFail(w, http.StatusBadRequest, "member must be a GUID")
		return
	}
	if err := s.RemoveGroupMember(group, member); err != nil {
		ctlStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlSetHomeTenant(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TenantID uuid.UUID `json:"tenantId"`
	}
	if !decode(w, r, &body) {
		return
	}
	if err := s.SetAppHomeTenant(chi.URLParam(r, "clientId"), body.TenantID); err != nil {
		ctlStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
