package identity

import (
	"errors"
	"slices"
	"strings"
)

// TenantProblem is a failure of a tenant's access as a whole, as opposed
// to one monitor's grant: every token for the tenant fails until someone
// fixes it, and retrying does not help. The engine degrades the tenant and
// alerts on one.
type TenantProblem string

// The tenant-level problems.
const (
	// ConsentWithdrawn: our service principal is missing in the tenant (the
	// enterprise app was deleted, or consent never given or revoked).
	ConsentWithdrawn TenantProblem = "consent_withdrawn"
	// AppDisabled: the service principal exists but is disabled there.
	AppDisabled TenantProblem = "app_disabled"
	// SecretExpired and SecretInvalid: the app's client secret was refused.
	SecretExpired TenantProblem = "secret_expired"
	SecretInvalid TenantProblem = "secret_invalid"
	// TenantNotFound: the Microsoft tenant no longer exists.
	TenantNotFound TenantProblem = "tenant_not_found"
)

// tenantRule recognises one problem. Microsoft warns that AADSTS numbers
// and texts change ("Apps that take a dependency on text or error code
// numbers will be broken over time",
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes),
// so a rule needs the OAuth error (the stable, RFC 6749 part) and then
// either one of the AADSTS codes or a phrase of the description.
type tenantRule struct {
	problem TenantProblem
	errors  []string
	codes   []int
	phrases []string // lower case
}

// The rules, in order: the first match wins. Sources: the error code
// reference above; AADSTS7000112 (service principal disabled,
// https://learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/error-code-aadsts7000112-application-is-disabled);
// AADSTS7000229 arrives as invalid_client before any secret check, so it
// precedes the secret rules.
var tenantRules = []tenantRule{
	{AppDisabled, []string{"unauthorized_client", "invalid_client", "invalid_request"},
		[]int{7000112}, []string{"is disabled"}},
	{ConsentWithdrawn, []string{"invalid_client", "unauthorized_client"},
		[]int{7000229, 700016}, []string{"missing service principal", "was not found in the directory"}},
	{ConsentWithdrawn, []string{"invalid_grant", "consent_required", "interaction_required"},
		[]int{65001}, []string{"has not consented"}},
	{SecretExpired, []string{"invalid_client"},
		[]int{7000222}, []string{"secret keys for app", "are expired"}},
	{SecretInvalid, []string{"invalid_client"},
		[]int{7000215, 7000218, 700027}, []string{"invalid client secret"}},
	{TenantNotFound, []string{"invalid_request", "invalid_tenant"},
		[]int{90002}, []string{"tenant '"}},
}

// TenantProblemOf says whether err is a tenant-level problem, and which.
// Transient failures (5xx, 429, timeouts, temporarily_unavailable) never
// are, whatever their body says.
func TenantProblemOf(err error) (TenantProblem, bool) {
	var e *Error
	if !errors.As(err, &e) || e.Class == Transient {
		return "", false
	}
	desc := strings.ToLower(e.Summary)
	for _, r := range tenantRules {
		if !slices.Contains(r.errors, e.Code) {
			continue
		}
		if slices.ContainsFunc(r.codes, e.Has) || slices.ContainsFunc(r.phrases, func(p string) bool { return strings.Contains(desc, p) }) {
			return r.problem, true
		}
	}
	return "", false
}
