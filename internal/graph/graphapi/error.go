package graphapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error is a refusal from Graph: its HTTP status, Graph's error code and
// message, the request id Microsoft support asks for, and how long to wait
// when Graph said so (429, 503). Every error package graph returns for an
// answer from Graph wraps one, including the answers to single steps of a
// $batch; errors.As finds it.
type Error struct {
	Status     int
	Code       string
	Message    string
	RequestID  string
	RetryAfter time.Duration
}

// Error reads "404 Request_ResourceNotFound: message (request-id …)";
// package graph prefixes what was being done.
func (e *Error) Error() string {
	s := fmt.Sprintf("%d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request-id " + e.RequestID + ")"
	}
	return s
}

// AsError finds the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func hasStatus(err error, statuses ...int) bool {
	e, ok := AsError(err)
	if !ok {
		return false
	}
	for _, s := range statuses {
		if e.Status == s {
			return true
		}
	}
	return false
}

// IsNotFound: the user, subscription or session does not exist (404). For a
// subscription this also means it expired: Graph deletes expired ones.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict: 409, e.g. a presence subscription for the same resource, or
// by the same user for the same app, already exists.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsBadRequest: Graph refused the request as malformed (400).
func IsBadRequest(err error) bool { return hasStatus(err, http.StatusBadRequest) }

// IsThrottled: Graph asked to slow down (429) or is briefly unavailable
// (503, 504); RetryAfter says for how long when Graph said so.
func IsThrottled(err error) bool {
	return hasStatus(err, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout)
}

// IsAuth: the token was refused (401) or lacks a permission (403). A person
// (an admin granting consent, a monitor signing in again) must act.
func IsAuth(err error) bool { return hasStatus(err, http.StatusUnauthorized, http.StatusForbidden) }

// IsForbidden: the token is valid but lacks a permission, or the operation
// is not allowed for this kind of token (403).
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

// IsTransient: worth retrying later as is — throttling and server errors.
func IsTransient(err error) bool {
	e, ok := AsError(err)
	return ok && (e.Status == http.StatusTooManyRequests || e.Status >= 500)
}

// RetryAfter is how long Graph asked the caller to wait, or 0.
func RetryAfter(err error) time.Duration {
	if e, ok := AsError(err); ok {
		return e.RetryAfter
	}
	return 0
}
