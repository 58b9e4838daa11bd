package identity

import (
	"fmt"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// The token endpoint's answers, as Microsoft words them, sort into
// tenant-level problems only on the OAuth error plus either the AADSTS
// code or the description; transient answers never do.
func TestTenantProblemsNeedTheOAuthErrorAndACodeOrDescription(t *testing.T) {
	answer := func(status int, oauthErr string, code int, desc string) error {
		body := fmt.Sprintf(`{"error":%q,"error_description":"AADSTS%d: %s\r\nTrace ID: x","error_codes":[%d]}`, oauthErr, code, desc, code)
		return classify(&oauth2.RetrieveError{Response: &http.Response{StatusCode: status}, Body: []byte(body)})
	}
	for _, c := range []struct {
		name string
		err  error
		want TenantProblem // "" : not a tenant-level problem
	}{
		{"service principal deleted", answer(401, "invalid_client", 7000229,
			"The client application 1 is missing service principal in the tenant 2."), ConsentWithdrawn},
		{"app not in the directory", answer(400, "unauthorized_client", 700016,
			"Application with identifier '1' was not found in the directory '2'."), ConsentWithdrawn},
		{"delegated refresh without consent", answer(400, "invalid_grant", 65001,
			"The user or administrator has not consented to use the application with ID '1' named 'PB'."), ConsentWithdrawn},
		{"service principal disabled", answer(400, "unauthorized_client", 7000112, "Application '1'(PB) is disabled."), AppDisabled},
		{"secret expired", answer(401, "invalid_client", 7000222, "The provided client secret keys for app '1' are expired."), SecretExpired},
		{"secret wrong", answer(401, "invalid_client", 7000215, "Invalid client secret provided."), SecretInvalid},
		{"tenant gone", answer(400, "invalid_request", 90002, "Tenant '2' not found."), TenantNotFound},
		{"renumbered, same words", answer(401, "invalid_client", 7999999,
			"The client application 1 is missing service principal in the tenant 2."), ConsentWithdrawn},
		{"code alone, another OAuth error", answer(400, "invalid_request", 7000229, "Something else."), ""},
		{"unavailable, whatever the body", answer(503, "invalid_client", 7000229, "missing service principal"), ""},
		{"temporarily unavailable", answer(400, "temporarily_unavailable", 50000, "There was an error issuing a token."), ""},
		{"one monitor revoked", answer(400, "invalid_grant", 50173, "The provided grant has expired due to it being revoked."), ""},
		{"user disabled", answer(400, "invalid_grant", 50057, "The user account is disabled."), ""},
		{"no answer", classify(fmt.Errorf("dial tcp: connection refused")), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := TenantProblemOf(c.err)
			if got != c.want || ok != (c.want != "") {
				t.Errorf("TenantProblemOf(%v) = %q, %v; want %q", c.err, got, ok, c.want)
			}
		})
	}
}
