package graphsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Directory roles by template id, as Microsoft's built-in roles are
// (https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/permissions-reference;
// docs/identity.md#people-signing-in).
const (
	RoleGlobalAdministrator           = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdministrator   = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleCloudApplicationAdministrator = "158c047a-c907-4556-b7ef-446551a6b5f7"
	RoleApplicationAdministrator      = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
)

// signInFacts are what an ID token tells beyond the account: the nonce of
// the sign-in, and when the credentials were entered (zero: not told).
type signInFacts struct {
	nonce    string
	authTime time.Time
}

// directoryRoles are the template ids the wids claim lists for u: its
// roles, with Global Administrator for an account seeded as the admin.
func directoryRoles(u *User) []string {
	roles := slices.Clone(u.Roles)
	if u.Admin && !slices.Contains(roles, RoleGlobalAdministrator) {
		roles = append(roles, RoleGlobalAdministrator)
	}
	return roles
}

// canGrantConsent: granting tenant-wide consent to an app asking for
// Microsoft Graph application permissions takes a Global Administrator or
// a Privileged Role Administrator; Cloud Application and Application
// Administrators may not grant Graph's app roles
// (https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/grant-admin-consent).
func canGrantConsent(u *User) bool {
	roles := directoryRoles(u)
	return slices.Contains(roles, RoleGlobalAdministrator) || slices.Contains(roles, RolePrivilegedRoleAdministrator)
}

// emitsWids: the wids claim is configured per application through the
// manifest's groupMembershipClaims, set to DirectoryRole or All
// (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference).
func emitsWids(app *App) bool {
	return strings.EqualFold(app.GroupMembershipClaims, "DirectoryRole") || strings.EqualFold(app.GroupMembershipClaims, "All")
}

// parseMaxAge reads the max_age parameter: -1 when absent.
func parseMaxAge(v string) (int, bool) {
	if v == "" {
		return -1, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// SetUserRoles replaces the directory roles assigned to an account (by
// template id), as an admin assigns roles in the Entra admin center. The
// account's seeded admin flag goes with it: the roles now say it all.
func (s *Sim) SetUserRoles(id uuid.UUID, roles []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return ErrNotFound
	}
	u.Roles, u.Admin = slices.Clone(roles), false
	return nil
}

func (s *Sim) ctlSetRoles(w http.ResponseWriter, r *http.Request) {
	id, ok := ctlID(w, r, "id")
	if !ok {
		return
	}
	var body struct {
		Roles []string `json:"roles"`
	}
	if !decode(w, r, &body) {
		return
	}
	for _, role := range body.Roles {
		if _, err := uuid.Parse(role); err != nil {
			ctlFail(w, 400, "role %q is not a role template id (a GUID)", role)
			return
		}
	}
	if err := s.SetUserRoles(id, body.Roles); err != nil {
		ctlStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
