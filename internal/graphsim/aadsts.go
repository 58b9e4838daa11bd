package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// aadError is one identity-platform error: the OAuth `error`, the AADSTS
// code and its message, and the HTTP status of a token-endpoint answer.
type aadError struct {
	Status   int    `json:"status"`
	Err      string `json:"error"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
	Suberror string `json:"suberror,omitempty"`
}

func (e aadError) Error() string { return fmt.Sprintf("%s: AADSTS%d: %s", e.Err, e.Code, e.Message) }

func newAAD(status int, err string, code int, format string, args ...any) aadError {
	return aadError{Status: status, Err: err, Code: code, Message: fmt.Sprintf(format, args...)}
}

// The errors graphsim answers, with Microsoft's codes and messages
// (docs/identity.md#token-errors, docs/identity.md#password-sign-in, docs/identity.md#client-credentials).
func errBadPassword() aadError {
	return newAAD(400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
}
func errMFARequired() aadError {
	e := newAAD(400, "invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'.", GraphAppID)
	e.Suberror = "basic_action"
	return e
}
func errRevoked(issued, validFrom time.Time) aadError {
	return newAAD(400, "invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.",
		issued.UTC().Format("2006-01-02T15:04:05.0000000Z"), validFrom.UTC().Format("2006-01-02T15:04:05.0000000Z"))
}
func errRefreshExpired(issued time.Time) aadError {
	return newAAD(400, "invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.",
		issued.UTC().Format("2006-01-02T15:04:05.0000000Z"))
}
func errCodeRedeemed() aadError {
	return newAAD(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
}
func errCodeExpired() aadError {
	return newAAD(400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
}
func errBadGrant() aadError {
	return newAAD(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
}
func errVerifier() aadError {
	return newAAD(400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
}
func errRedirectMismatch() aadError {
	return newAAD(400, "invalid_grant", 70000, "The provided value for the 'redirect_uri' is not valid. The value must exactly match the redirect URI used to obtain the authorization code.")
}
func errNoConsent(app *App) aadError {
	e := newAAD(400, "invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", app.ClientID, app.DisplayName)
	e.Suberror = "consent_required"
	return e
}
func errAppNotFound(clientID, tenant string) aadError {
	return newAAD(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)
}
func errMissingServicePrincipal(clientID string, tenant uuid.UUID) aadError {
	return newAAD(401, "invalid_client", 7000229, "The client application %s is missing service principal in the tenant %s. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119", clientID, tenant)
}
func errAppDisabled(app *App) aadError {
	return newAAD(400, "unauthorized_client", 7000112, "Application '%s'(%s) is disabled.", app.ClientID, app.DisplayName)
}
func errBadSecret(clientID string) aadError {
	return newAAD(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)
}
func errSecretExpired(clientID string) aadError {
	return newAAD(401, "invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID)
}
func errNoSecret() aadError {
	return newAAD(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
}
func errMissingParam(name string) aadError {
	return newAAD(400, "invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}
func errTenantNotFound(seg string) aadError {
	return newAAD(400, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", seg)
}
func errCommonNotAllowed() aadError {
	return newAAD(400, "invalid_request", 9001023, "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")
}
func errUnsupportedGrant(g string) aadError {
	return newAAD(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", g)
}
func errUserNotFound(tenant string) aadError {
	return newAAD(400, "invalid_grant", 50034, "The user account {EUII Hidden} does not exist in the %s directory. To sign into this application, the account must be added to the directory.", tenant)
}
func errUserDisabled() aadError {
	return newAAD(400, "invalid_grant", 50057, "The user account is disabled.")
}
func errClientCredentialsScope(scope string) aadError {
	return newAAD(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
}
func errUnknownClient(clientID, tenant string) aadError {
	return errAppNotFound(clientID, tenant)
}

// writeTokenError answers with the token endpoint's error JSON
// (docs/identity.md#token-errors: error, error_description with trace and
// correlation ids and timestamp, error_codes, timestamp, trace_id,
// correlation_id, error_uri).
func (s *Sim) writeTokenError(w http.ResponseWriter, e aadError) {
	now := s.clock().UTC()
	ts := now.Format("2006-01-02 15:04:05Z")
	trace, corr := uuid.NewString(), uuid.NewString()
	body := map[string]any{
		"error":             e.Err,
		"error_description": s.describe(e, trace, corr, ts),
		"error_codes":       []int{e.Code},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         s.BaseURL() + "/error?code=" + strconv.Itoa(e.Code),
	}
	if e.Suberror != "" {
		body["suberror"] = e.Suberror
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(body)
}

func (s *Sim) describe(e aadError, trace, corr, ts string) string {
	return fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.Code, e.Message, trace, corr, ts)
}
