package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// Class says what a failed token request asks of us (the classes
// of docs/identity.md#token-errors).
type Class int

const (
	// Transient failures (5xx, timeouts, temporarily_unavailable, the
	// retryable AADSTS codes) are retried with back-off.
	Transient Class = iota
	// Reauthorize: the grant is gone (invalid_grant, interaction_required,
	// MFA, revoked, expired, wrong password). A person must sign in again;
	// retrying is useless and, for passwords, risks a lockout.
	Reauthorize
	// ConsentMissing: the tenant has not (or no longer) consented to the
	// app, or the tenant is gone. The customer admin must grant consent.
	ConsentMissing
	// AppCredential: our own client secret or certificate is wrong or
	// expired. Every tenant is affected; the operator must act.
	AppCredential
	// Invalid: the request itself is wrong (a bug or a configuration
	// error such as ROPC on /common). Retrying does not help.
	Invalid
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Reauthorize:
		return "reauthorize"
	case ConsentMissing:
		return "consent_missing"
	case AppCredential:
		return "app_credential"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Error is a failed request to the identity platform.
type Error struct {
	Class Class
	// Status is the HTTP status, 0 when no answer came (network, timeout).
	Status int
	// Code is the OAuth error ("invalid_grant"), the primary signal.
	Code string
	// AADSTS lists error_codes, the finer detail (50076 MFA, 50173 revoked…).
	AADSTS []int
	// Summary is the first line of error_description: "AADSTS50076: Due to
	// a configuration change…". It never holds tokens or secrets.
	Summary       string
	Suberror      string
	TraceID       string
	CorrelationID string
	err           error // the transport error, for Transient without an answer
}

func (e *Error) Error() string {
	if e.Status == 0 && e.err != nil {
		return "identity platform unreachable: " + e.err.Error()
	}
	if e.Summary != "" {
		return fmt.Sprintf("%s (%s, HTTP %d)", e.Summary, e.Code, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Code, e.Status)
}

func (e *Error) Unwrap() error { return e.err }

// Has reports whether the platform answered with AADSTS code.
func (e *Error) Has(code int) bool { return slices.Contains(e.AADSTS, code) }

// ClassOf classifies any error from this package; errors that are not an
// *Error (a cancelled context, say) are Transient.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Transient
}

// Advice is a sentence for the person who can fix e, for pages and alerts.
func (e *Error) Advice() string {
	switch {
	case e.Has(50076) || e.Has(50079):
		return "The account needs multi-factor authentication. Sign in with \"Authorize now\" (which supports MFA) or exclude the monitor account from the MFA policy."
	case e.Has(50126):
		return "The user name or password is wrong. Check them and try again; repeated failures can lock the account."
	case e.Has(50053):
		return "The account is locked. Wait, or ask your administrator to unlock it."
	case e.Has(50057):
		return "The account is disabled in Microsoft Entra ID. Enable it, then sign in again."
	case e.Has(50055) || e.Has(50144):
		return "The account's password has expired. Change it, then sign in again."
	case e.Has(50173) || e.Has(50132) || e.Has(50133):
		return "The account's sessions were revoked (a password change or an administrator). Sign in again."
	case e.Has(700082) || e.Has(70008) || e.Has(70043):
		return "The sign-in has expired. Sign in again."
	case e.Has(53003) || e.Has(530032) || e.Has(530035):
		return "A Conditional Access policy blocks this sign-in. Exclude the monitor account from the policy."
	case e.Has(50034):
		return "No such account in this Microsoft tenant. Check the user name."
	case e.Has(9001023) || e.Has(90010):
		return "The sign-in must name the Microsoft tenant; it cannot use the common endpoint."
	}
	switch e.Class {
	case Reauthorize:
		return "The sign-in is no longer valid. Sign in again."
	case ConsentMissing:
		return "Presence Bridge is not (or no longer) authorized in this Microsoft tenant. A global administrator must grant consent."
	case AppCredential:
		return "Presence Bridge's own credentials were refused by Microsoft. Our support team has been alerted."
	case Transient:
		return "Microsoft's sign-in service did not answer. We will retry."
	}
	return "Microsoft refused the request."
}

// tokenErrorBody is the identity platform's error JSON (docs/identity.md#token-errors).
type tokenErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Suberror      string `json:"suberror"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
}

var (
	transientCodes = []int{50033, 50087, 90006, 90024, 90033, 90090, 50000, 80002, 90055, 50196}
	consentCodes   = []int{700016, 500011, 90002, 7000229, 65001, 90094, 65004}
	credCodes      = []int{7000215, 7000222, 700027, 7000218}
)

// classify turns an x/oauth2 error into an *Error.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &Error{Class: Transient, err: err}
	}
	var b tokenErrorBody
	_ = json.Unmarshal(re.Body, &b)
	e := &Error{Code: b.Error, AADSTS: b.Codes, Suberror: b.Suberror, TraceID: b.TraceID, CorrelationID: b.CorrelationID}
	if e.Code == "" {
		e.Code = re.ErrorCode
	}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
	}
	e.Summary, _, _ = strings.Cut(b.Description, "\r\n")
	e.Summary, _, _ = strings.Cut(e.Summary, "\n")
	has := func(codes []int) bool {
		return slices.ContainsFunc(e.AADSTS, func(c int) bool { return slices.Contains(codes, c) })
	}
	switch {
	case e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Code == "temporarily_unavailable" || e.Code == "server_error" || has(transientCodes):
		e.Class = Transient
	case has(consentCodes): // before invalid_client: 7000229 arrives as invalid_client
		e.Class = ConsentMissing
	case e.Code == "invalid_client" || has(credCodes):
		e.Class = AppCredential
	case e.Code == "invalid_grant" || e.Code == "interaction_required" || e.Code == "consent_required":
		e.Class = Reauthorize
	case e.Code == "unauthorized_client":
		e.Class = ConsentMissing
	default:
		e.Class = Invalid
	}
	return e
}
