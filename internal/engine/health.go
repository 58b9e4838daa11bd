package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"presencebridge/internal/identity"
	"presencebridge/internal/store"
)

// Access names what a tenant's access to Microsoft goes through, so an
// alert can say what to fix and where.
type Access struct {
	ClientID string // the app registration
	MSTenant string // the Microsoft tenant
	OwnApp   bool   // the tenant's own app registration, not ours
	// ConsentURL is where a Global Administrator grants the app tenant-wide
	// consent again.
	ConsentURL string
	// Roles are the application permissions the tenant's app-only token
	// carries: what its consent granted when the token was issued.
	Roles []string
}

// AccessChecker is implemented by Clients that can ask the identity
// platform itself (not a cache) whether a tenant's access holds. Cached
// access tokens outlive a withdrawn consent by up to their lifetime (about
// an hour; access tokens are not revoked,
// https://learn.microsoft.com/entra/identity-platform/access-tokens#token-lifetime),
// so only a fresh token request finds the withdrawal within one pass.
type AccessChecker interface {
	CheckAccess(ctx context.Context, tenantID uuid.UUID) (Access, error)
}

// keepHealth checks the tenant's access at the start of a pass. A
// tenant-level identity failure degrades the tenant and raises an alert
// for that condition; nothing else in the pass can work, so stop is true.
// A token obtained makes the tenant healthy and resolves the alert, and
// its roles say whether presence write-back is granted (alertWriteBack).
// Other failures (transient ones above all) change nothing.
func (r *Runner) keepHealth(ctx context.Context, tenantID uuid.UUID) (stop bool, err error) {
	ac, ok := r.cl.(AccessChecker)
	if !ok {
		return false, nil
	}
	acc, cerr := ac.CheckAccess(ctx, tenantID)
	if cerr == nil {
		return false, errors.Join(r.healthy(ctx, tenantID), r.alertWriteBack(ctx, tenantID, acc))
	}
	problem, tenantWide := identity.TenantProblemOf(cerr)
	if !tenantWide {
		return false, fmt.Errorf("access check: %w", cerr)
	}
	if err := r.degrade(ctx, tenantID, problem, acc, cerr); err != nil {
		return true, err
	}
	return true, &DegradedError{Problem: problem, Err: cerr}
}

// DegradedError is a pass that stopped because the tenant's access is
// broken as a whole; the tenant is degraded and alerted.
type DegradedError struct {
	Problem identity.TenantProblem
	Err     error
}

func (e *DegradedError) Error() string {
	return fmt.Sprintf("tenant degraded (%s): %v", e.Problem, e.Err)
}

func (e *DegradedError) Unwrap() error { return e.Err }

func (r *Runner) degrade(ctx context.Context, tenantID uuid.UUID, problem identity.TenantProblem, acc Access, cause error) error {
	reason := cause.Error()
	detail := map[string]any{"condition": string(problem), "reason": reason, "client_id": acc.ClientID, "own_app": acc.OwnApp,
		"consent_url": acc.ConsentURL} // the fix the pages link to
	var ie *identity.Error
	if errors.As(cause, &ie) {
		detail["aadsts"], detail["error"] = ie.AADSTS, ie.Code
	}
	var changed bool
	err := r.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if changed, err = tx.SetTenantDegraded(ctx, tenantID, string(problem), reason); err != nil {
			return err
		}
		if err := tx.RaiseAlert(ctx, tenantID, store.AlertTenantAccess, string(problem), accessMessage(problem, acc), detail); err != nil {
			return err
		}
		if err := tx.ResolveAlertsExcept(ctx, tenantID, store.AlertTenantAccess, string(problem)); err != nil {
			return err
		}
		if changed {
			return tx.Audit(ctx, &tenantID, "system", "tenant.degraded", detail)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("degrade tenant: %w", err)
	}
	if changed {
		r.logger.Warn("engine: tenant degraded: its access to Microsoft is broken", "tenant", tenantID, "condition", problem, "err", cause)
	}
	return nil
}

func (r *Runner) healthy(ctx context.Context, tenantID uuid.UUID) error {
	var changed bool
	err := r.st.InTx(ctx, func(tx store.Tx) error {
		var err error
		if changed, err = tx.SetTenantHealthy(ctx, tenantID); err != nil || !changed {
			return err
		}
		if err := tx.ResolveAlertsExcept(ctx, tenantID, store.AlertTenantAccess, ""); err != nil {
			return err
		}
		return tx.Audit(ctx, &tenantID, "system", "tenant.recovered", nil)
	})
	if err != nil {
		return fmt.Errorf("tenant healthy again: %w", err)
	}
	if changed {
		r.logger.Info("engine: tenant's access to Microsoft works again", "tenant", tenantID)
	}
	return nil
}

// accessMessage is the alert: what is wrong, what it means for presence,
// and the fix, in an administrator's words.
func accessMessage(p identity.TenantProblem, acc Access) string {
	const stopped = "No presence is being monitored, and the presence monitors' sign-ins cannot be used until this is fixed."
	app := "Presence Bridge's app"
	if acc.OwnApp {
		app = fmt.Sprintf("Your own app registration for Presence Bridge (client id %s)", acc.ClientID)
	}
	switch p {
	case identity.ConsentWithdrawn:
		return fmt.Sprintf("%s was removed from your Microsoft tenant (consent withdrawn). %s Fix: a Global Administrator grants consent again at %s — "+
			"monitoring resumes on its own within a minute; the monitors need not sign in again.", app, stopped, acc.ConsentURL)
	case identity.AppDisabled:
		return fmt.Sprintf("%s is disabled in your Microsoft tenant. %s Fix: an administrator enables it again in the Microsoft Entra admin center "+
			"(Enterprise applications, the app's Properties, \"Enabled for users to sign in?\": Yes).", app, stopped)
	case identity.SecretExpired, identity.SecretInvalid:
		what := "has expired"
		if p == identity.SecretInvalid {
			what = "was refused by Microsoft"
		}
		if acc.OwnApp {
			return fmt.Sprintf("The client secret of %s %s. %s Fix: an administrator creates a new client secret for that app in the Microsoft Entra admin center "+
				"(App registrations, Certificates & secrets) and enters it in Presence Bridge.", lowerFirst(app), what, stopped)
		}
		return fmt.Sprintf("Presence Bridge's own client secret %s. %s Nothing is needed from you: our support team has been alerted and is replacing it.", what, stopped)
	case identity.TenantNotFound:
		return fmt.Sprintf("Microsoft no longer knows your tenant (%s). %s Fix: check that the tenant was not deleted; if you moved to another tenant, "+
			"connect it to Presence Bridge again.", acc.MSTenant, stopped)
	}
	return fmt.Sprintf("Presence Bridge cannot reach your Microsoft tenant (%s). %s", p, stopped)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// maxNamed is how many unresolved users an alert names.
const maxNamed = 5

// alertUnresolved raises (or refreshes) the alert for roster entries that
// match no usable account, naming a few, and resolves it once none are
// left.
func (r *Runner) alertUnresolved(ctx context.Context, tenantID uuid.UUID) error {
	n, some, err := r.st.UnresolvedUsers(ctx, tenantID, maxNamed)
	if err != nil {
		return err
	}
	if n == 0 {
		return r.st.ResolveAlert(ctx, tenantID, store.AlertUsersUnresolved, "")
	}
	names := make([]string, len(some))
	byStatus := map[string][]string{}
	for i, u := range some {
		names[i] = fmt.Sprintf("%s (%s)", u.UPN, strings.ReplaceAll(u.Status, "_", " "))
		byStatus[u.Status] = append(byStatus[u.Status], u.UPN)
	}
	list := strings.Join(names, ", ")
	if n > len(some) {
		list += fmt.Sprintf(" and %d more", n-len(some))
	}
	users := "users … are"
	if n == 1 {
		users = "user … is"
	}
	u, are, _ := strings.Cut(users, " … ")
	msg := fmt.Sprintf("%d %s could not be found in your directory and %s not monitored: %s. "+
		"Fix: correct or remove these entries in the roster, or enable the accounts in Microsoft Entra ID (duplicates name an account already in the roster).",
		n, u, are, list)
	return r.st.RaiseAlert(ctx, tenantID, store.AlertUsersUnresolved, "", msg,
		map[string]any{"unresolved": n, "named": byStatus})
}
