package writeback

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/engine"
	"presencebridge/internal/identity"
	"presencebridge/internal/presence"
)

// Permission is the application permission writing another user's
// presence takes (https://learn.microsoft.com/en-us/graph/api/presence-setpresence).
const Permission = identity.WriteBackRole

// InvalidError is a request Graph would refuse: a pair it does not accept,
// an expiry out of range. Nothing was sent. (The API answers 422.)
type InvalidError struct {
	Field  string // "availability/activity", "expires"
	Reason string
	// Allowed are the pairs the operation accepts, when the pair was
	// refused.
	Allowed []presence.Pair
}

func (e *InvalidError) Error() string {
	s := "writeback: invalid " + e.Field + ": " + e.Reason
	if len(e.Allowed) > 0 {
		names := make([]string, len(e.Allowed))
		for i, p := range e.Allowed {
			names[i] = p.String()
		}
		s += " (allowed: " + strings.Join(names, ", ") + ")"
	}
	return s
}

// PermissionError is a tenant whose app registration may not write
// presence: its token lacks Presence.ReadWrite.All, even when asked for
// afresh. Nothing was sent. It carries what an alert needs to ask an
// administrator for consent: which app, which tenant, what is missing and
// where to grant it. (The API answers 409.)
type PermissionError struct {
	TenantID uuid.UUID
	// Missing is the permission to grant (Permission).
	Missing string
	// Granted are the app roles the tenant's token carries.
	Granted []string
	// Access names the app registration and its admin consent URL.
	Access engine.Access
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("writeback: tenant %s has not granted %s to app %s (an administrator grants it at %s)",
		e.TenantID, e.Missing, e.Access.ClientID, e.Access.ConsentURL)
}

// ThrottledError is a write Graph throttled for longer than the caller's
// deadline allowed waiting; nothing was changed. Try again at RetryAt.
// (The API answers 202 with an operation to poll.)
type ThrottledError struct {
	RetryAt  time.Time
	Attempts int
	Err      error // Graph's last answer (a *graphapi.Error)
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("throttled by Graph after %d attempts, retry at %s: %v", e.Attempts, e.RetryAt.Format(time.RFC3339), e.Err)
}

func (e *ThrottledError) Unwrap() error { return e.Err }

// ErrUserNotFound: Graph knows no such user in the tenant. (The API
// answers 404.)
var ErrUserNotFound = errors.New("writeback: no such user in the tenant")
