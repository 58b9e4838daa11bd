// Package portaladmin keeps who may sign in to a tenant's portal: its
// portal admins, added by UPN after the account is looked up in the
// tenant's own directory (Microsoft Graph, the app-only client the roster
// resolves users with) and removed as long as one stays. Every change is
// audited with the acting person.
package portaladmin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/graph/graphapi"
	"presencebridge/internal/roster"
	"presencebridge/internal/store"
)

// Directory returns the tenant's directory as the roster reads it
// (engine.GraphClients.Directory: app-only, in the tenant's own Microsoft
// tenant).
type Directory func(ctx context.Context, tenantID uuid.UUID) (roster.Directory, error)

// Refusal is why an admin was not added or removed, in words for the
// person who asked.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// ErrDirectoryUnavailable: Microsoft Graph did not answer the lookup (it
// throttled, failed, or refused the tenant's app-only token); nothing was
// decided about the account.
var ErrDirectoryUnavailable = errors.New("the directory could not be read")

// Service adds and removes portal admins.
type Service struct {
	st  *store.Store
	dir Directory
}

// New returns a Service over st that looks accounts up with dir.
func New(st *store.Store, dir Directory) *Service { return &Service{st: st, dir: dir} }

// List is the tenant's portal admins, the first added first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID) ([]store.PortalAdmin, error) {
	return s.st.PortalAdmins(ctx, tenantID)
}

// Add makes the account named upn a portal admin of the tenant, as actor.
// The account must be in the tenant's own directory, enabled, and a member
// (a guest signs in at its own organization, whose object id is not the
// one here, so it could never get in); anything else is a *Refusal.
func (s *Service) Add(ctx context.Context, tenantID uuid.UUID, upn, actor string) (store.PortalAdmin, error) {
	upn = strings.TrimSpace(upn)
	if upn == "" || !strings.Contains(upn, "@") || strings.ContainsAny(upn, " \t\r\n") {
		return store.PortalAdmin{}, &Refusal{"Enter the account's user principal name, like alex@contoso.com."}
	}
	if !store.Storable(upn) {
		return store.PortalAdmin{}, &Refusal{store.NotText}
	}
	t, err := s.st.GetTenant(ctx, tenantID)
	if err != nil {
		return store.PortalAdmin{}, fmt.Errorf("add portal admin: %w", err)
	}
	if t.MSTenantID == nil {
		return store.PortalAdmin{}, &Refusal{"Your Microsoft tenant is not connected yet: finish onboarding first."}
	}
	u, err := s.lookUp(ctx, tenantID, upn)
	if err != nil {
		return store.PortalAdmin{}, err
	}
	oid, err := uuid.Parse(u.ID)
	switch {
	case err != nil:
		return store.PortalAdmin{}, fmt.Errorf("add portal admin %s: Graph answered with an object id that is not a GUID: %q", upn, u.ID)
	case strings.EqualFold(u.UserType, "Guest") || strings.Contains(strings.ToUpper(u.UPN), "#EXT#"):
		return store.PortalAdmin{}, &Refusal{u.UPN + " is a guest in your directory, an account of another organization. " +
			"Only your organization's own accounts can be portal administrators."}
	case !u.AccountEnabled:
		return store.PortalAdmin{}, &Refusal{u.UPN + "'s account is disabled in your directory, so it cannot sign in. " +
			"Enable it in Microsoft Entra ID first."}
	}
	a := store.PortalAdmin{TenantID: tenantID, ObjectID: oid, MSTenantID: *t.MSTenantID, UPN: u.UPN,
		DisplayName: u.DisplayName, AddedBy: actor}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		added, err := tx.AddPortalAdmin(ctx, a)
		if err != nil {
			return err
		}
		if !added {
			return &Refusal{u.UPN + " is already a portal administrator."}
		}
		return tx.Audit(ctx, &tenantID, actor, "portal_admin.added", map[string]any{"object_id": oid, "upn": u.UPN})
	})
	var r *Refusal
	if errors.As(err, &r) {
		return store.PortalAdmin{}, r
	}
	if err != nil {
		return store.PortalAdmin{}, fmt.Errorf("add portal admin %s: %w", upn, err)
	}
	return a, nil
}

// lookUp finds upn in the tenant's directory, the roster's way (by UPN,
// then by mail): not found is a *Refusal, an unanswered lookup
// ErrDirectoryUnavailable.
func (s *Service) lookUp(ctx context.Context, tenantID uuid.UUID, upn string) (graphapi.User, error) {
	dir, err := s.dir(ctx, tenantID)
	if err != nil {
		return graphapi.User{}, fmt.Errorf("look up %s: %w: %w", upn, ErrDirectoryUnavailable, err)
	}
	found, failed := dir.ResolveUsers(ctx, []string{upn})
	if u, ok := found[upn]; ok {
		return u, nil
	}
	err = failed[upn]
	if err == nil || graphapi.IsNotFound(err) || graphapi.IsBadRequest(err) {
		return graphapi.User{}, &Refusal{"There is no account " + upn + " in your organization's directory. " +
			"Check the spelling; accounts of other organizations cannot be added."}
	}
	return graphapi.User{}, fmt.Errorf("look up %s: %w: %w", upn, ErrDirectoryUnavailable, err)
}

// Remove takes the account off the tenant's portal admins, as actor, and
// returns who it was. The last admin stays (a *Refusal): no one could add
// another.
func (s *Service) Remove(ctx context.Context, tenantID, objectID uuid.UUID, actor string) (store.PortalAdmin, error) {
	var a store.PortalAdmin
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if a, err = tx.RemovePortalAdmin(ctx, tenantID, objectID); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, actor, "portal_admin.removed", map[string]any{"object_id": objectID, "upn": a.UPN})
	})
	switch {
	case errors.Is(err, store.ErrLastPortalAdmin):
		return store.PortalAdmin{}, &Refusal{"This is the only portal administrator. Add another before removing this one."}
	case errors.Is(err, store.ErrNotPortalAdmin):
		return store.PortalAdmin{}, &Refusal{"That account is no longer a portal administrator."}
	case err != nil:
		return store.PortalAdmin{}, fmt.Errorf("remove portal admin %s: %w", objectID, err)
	}
	return a, nil
}
