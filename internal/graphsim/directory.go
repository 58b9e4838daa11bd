package graphsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// GraphAppID is Microsoft Graph's own application id: the resource of
// every Graph token, and the app that sends change notifications.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// Tenant is a Microsoft Entra tenant.
type Tenant struct {
	ID          uuid.UUID
	Domain      string // verified domain, e.g. contoso.example
	DisplayName string
	users       map[uuid.UUID]*User
	byUPN       map[string]*User // lower-cased UPN
	// grants are our service principals' consents in this tenant, by app.
	grants map[string]*Grant
	// withdrawn keeps consents withdrawn (WithdrawConsent), to restore.
	withdrawn map[string]*Grant
	// groups, soft-deleted users and the change log behind /users/delta
	// are created on first use (groups.go, delta.go), so tenants made
	// anywhere in the package need no extra set-up.
	groups  map[uuid.UUID]*Group
	deleted map[uuid.UUID]*User // soft-deleted: in "deleted items", restorable
	track   *changeTracker
	gtrack  *groupTracker // behind /groups/delta (groups_delta.go)
	index   *userIndex
}

// Group is a security group. Members holds user and group ids in the order
// they were added; nested groups make transitiveMembers differ from members.
type Group struct {
	ID           uuid.UUID
	TenantID     uuid.UUID
	DisplayName  string
	Description  string
	MailNickname string
	Created      time.Time
	Members      []uuid.UUID
}

// User is a work account.
type User struct {
	ID          uuid.UUID
	TenantID    uuid.UUID
	UPN         string
	Mail        string
	DisplayName string
	Password    string
	MFARequired bool
	Enabled     bool
	// Guest is an account of another organization invited into this
	// directory (B2B): userType "Guest", a UPN of the form
	// alice_fabrikam.com#EXT#@contoso.com and mail its home address.
	Guest bool `json:",omitempty"`
	Admin bool // may grant tenant-wide admin consent (a Global Administrator)
	// Roles are the directory roles assigned to the account, by template
	// id (roles.go): what the wids claim lists.
	Roles []string `json:",omitempty"`
	// RevokedAt invalidates every refresh token issued before it
	// (revokeSignInSessions, an admin password reset).
	RevokedAt time.Time
}

// App is an app registration (in its home tenant).
type App struct {
	ClientID     string
	HomeTenantID uuid.UUID
	DisplayName  string
	Secrets      []AppSecret
	RedirectURIs []string
	MultiTenant  bool
	// Delegated and Application are the "required permissions" of the
	// registration: what /.default and admin consent grant.
	Delegated   []string
	Application []string
	// GroupMembershipClaims is the manifest's groupMembershipClaims:
	// DirectoryRole or All puts the wids claim in tokens (roles.go).
	GroupMembershipClaims string `json:",omitempty"`
}

// AppSecret is one client secret of an app registration.
type AppSecret struct {
	KeyID   uuid.UUID
	Value   string
	Expires time.Time
}

// Grant is an app's service principal in a tenant with what the admin
// consented to: delegated scopes for all users and application roles.
type Grant struct {
	ClientID  string
	Scopes    []string
	Roles     []string
	GrantedAt time.Time
	// Disabled: the service principal is disabled in the tenant
	// (accountEnabled false): every token request fails (AADSTS7000112).
	Disabled bool `json:",omitempty"`
}

// Seed describes a directory: one app registration and the tenants with
// their users and monitor accounts. It is what --seed-file holds.
type Seed struct {
	App     SeedApp      `json:"app"`
	Tenants []SeedTenant `json:"tenants"`
}

// SeedApp is the app registration our product (or any client) uses.
type SeedApp struct {
	ClientID      string     `json:"clientId"`
	ClientSecret  string     `json:"clientSecret"`
	SecretExpires *time.Time `json:"secretExpires,omitempty"`
	RedirectURIs  []string   `json:"redirectUris"`
	DisplayName   string     `json:"displayName,omitempty"`
	Delegated     []string   `json:"delegatedPermissions,omitempty"`
	Application   []string   `json:"applicationPermissions,omitempty"`
	// GroupMembershipClaims is the manifest's groupMembershipClaims
	// ("DirectoryRole" or "All" for the wids claim; empty for none).
	GroupMembershipClaims string `json:"groupMembershipClaims,omitempty"`
}

// SeedTenant is one tenant. Consented pre-grants the app's admin consent.
type SeedTenant struct {
	ID        uuid.UUID  `json:"id"`
	Domain    string     `json:"domain"`
	Name      string     `json:"name,omitempty"`
	Consented bool       `json:"consented"`
	Admin     SeedUser   `json:"admin"`
	Users     []SeedUser `json:"users"`
	Monitors  []SeedUser `json:"monitors"`
	// Groups are applied after the accounts (ApplyGroups).
	Groups []SeedGroup `json:"groups,omitempty"`
}

// SeedGroup is one security group. Members name users by UPN or id, and
// groups of the same seed tenant by id or display name.
type SeedGroup struct {
	ID          uuid.UUID `json:"id"`
	DisplayName string    `json:"displayName"`
	Description string    `json:"description,omitempty"`
	Members     []string  `json:"members"`
}

// PresenceGroupName is the group GenerateSeed puts every generated person
// in: what an admin scopes Presence Bridge to.
const PresenceGroupName = "Presence Bridge users"

// SeedUser is one account.
type SeedUser struct {
	ID          uuid.UUID `json:"id"`
	UPN         string    `json:"upn"`
	DisplayName string    `json:"displayName,omitempty"`
	Password    string    `json:"password"`
	MFARequired bool      `json:"mfaRequired,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	// Guest makes the account a guest (User.Guest); its UPN is then the
	// #EXT# form in the tenant's domain.
	Guest bool `json:"guest,omitempty"`
}

// DefaultDelegated and DefaultApplication are the permissions Presence
// Bridge's registration requires (Presence.ReadWrite.All writes presence
// back into Teams).
var (
	DefaultDelegated   = []string{"Presence.Read.All", "User.ReadBasic.All", "offline_access", "openid", "profile"}
	DefaultApplication = []string{"User.Read.All", "Presence.Read.All", "GroupMember.Read.All", "Presence.ReadWrite.All"}
)

// RequireApplicationPermission adds an application permission to an app
// registration, as its owner adds one under API permissions. Tenants that
// consented before keep what they granted: their tokens carry the new
// role only once an administrator consents again (the admin consent URL,
// or Apply with the tenant Consented). false when there is no such app.
func (s *Sim) RequireApplicationPermission(clientID, role string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[clientID]
	if app == nil {
		return false
	}
	if !slices.Contains(app.Application, role) {
		app.Application = append(slices.Clone(app.Application), role)
	}
	return true
}

var firstNames = []string{"Adele", "Alex", "Diego", "Grady", "Isaiah", "Johanna", "Joni", "Lee", "Lidia",
	"Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Henrietta", "Irvin", "Emily", "Allan", "Christie"}
var lastNames = []string{"Vance", "Wilber", "Siciliani", "Archie", "Langer", "Lauer", "Sherman", "Gu", "Holloway",
	"Robbins", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta", "Mueller", "Sayers", "Braun", "Deyoung", "Cline"}

// GenerateSeed makes a deterministic directory: tenants contoso-1.example …,
// each with usersPerTenant people, monitorsPerTenant monitor accounts and an
// admin; all consented. The same seed value gives the same ids.
func GenerateSeed(tenants, usersPerTenant, monitorsPerTenant int, seed uint64) Seed {
	sizes := make([]TenantSize, tenants)
	for i := range sizes {
		sizes[i] = TenantSize{Users: usersPerTenant, Monitors: monitorsPerTenant}
	}
	return GenerateSeedSizes(sizes, seed)
}

// TenantSize is one generated tenant's people and monitor accounts.
type TenantSize struct {
	Users, Monitors int
}

// GenerateSeedSizes is GenerateSeed with each tenant's size of its own
// (contoso-1.example is sizes[0]): a load run's directory of tenants large
// and small. The same sizes and seed value give the same ids, and equal
// sizes the same directory as GenerateSeed.
func GenerateSeedSizes(sizes []TenantSize, seed uint64) Seed {
	g := newGenerator(seed)
	s := Seed{App: SeedApp{
		ClientID:     g.id().String(),
		ClientSecret: fmt.Sprintf("sim~%x", g.rnd.Uint64()),
		RedirectURIs: []string{},
		DisplayName:  "Presence Bridge",
		Delegated:    DefaultDelegated,
		Application:  DefaultApplication,
		// Our registration asks for directory roles in its tokens, so
		// onboarding can tell an administrator (docs/identity.md#people-signing-in).
		GroupMembershipClaims: "DirectoryRole",
	}}
	for i, size := range sizes {
		s.Tenants = append(s.Tenants, g.tenant(i+1, size.Users, size.Monitors))
	}
	return s
}

type generator struct{ rnd *rand.Rand }

func newGenerator(seed uint64) *generator {
	return &generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *generator) id() uuid.UUID {
	var u uuid.UUID
	for i := range u {
		u[i] = byte(g.rnd.UintN(256))
	}
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u
}

// tenant generates tenant number n (domain contoso-n.example).
func (g *generator) tenant(n, users, monitors int) SeedTenant {
	domain := fmt.Sprintf("contoso-%d.example", n)
	st := SeedTenant{ID: g.id(), Domain: domain, Name: fmt.Sprintf("Contoso %d", n), Consented: true,
		Admin: SeedUser{ID: g.id(), UPN: "admin@" + domain, DisplayName: "MOD Administrator", Password: fmt.Sprintf("Admin-%x", g.rnd.Uint32())}}
	for u := 0; u < users; u++ {
		first, last := firstNames[u%len(firstNames)], lastNames[(u/len(firstNames))%len(lastNames)]
		local := strings.ToLower(first + "." + last)
		if u >= len(firstNames)*len(lastNames) {
			local = fmt.Sprintf("%s%d", local, u)
		}
		st.Users = append(st.Users, SeedUser{ID: g.id(), UPN: local + "@" + domain,
			DisplayName: first + " " + last, Password: fmt.Sprintf("User-%x", g.rnd.Uint32())})
	}
	for m := 1; m <= monitors; m++ {
		st.Monitors = append(st.Monitors, SeedUser{ID: g.id(), UPN: fmt.Sprintf("pb-monitor-%d@%s", m, domain),
			DisplayName: fmt.Sprintf("Presence monitor %d", m), Password: fmt.Sprintf("Monitor-%x", g.rnd.Uint32())})
	}
	// The group's id is derived, not drawn, so adding it left every other
	// generated id as it was.
	pg := SeedGroup{ID: uuid.NewSHA1(st.ID, []byte("group:"+PresenceGroupName)), DisplayName: PresenceGroupName,
		Description: "People whose presence Presence Bridge mirrors"}
	for _, u := range st.Users {
		pg.Members = append(pg.Members, u.ID.String())
	}
	st.Groups = append(st.Groups, pg)
	return st
}
