// Package writeback writes presence into Microsoft Teams on the telephony
// platform's behalf: an agent on a call on the platform shows "In a call"
// in Teams, through Graph's setPresence and its relatives (the user's
// preferred presence, the status message). The tenant API's handlers call
// a Writer and turn its typed errors into answers.
//
// Presence Bridge also reads Teams presence and sends every change to the
// platform, so what it writes would come straight back as a change the
// platform caused. The Writer records each state it sets as an echo before
// Graph is called; when Graph reports that state, the intake stores it and
// sends nothing. Writing another user's presence takes the application
// permission Presence.ReadWrite.All, which a tenant may not have granted:
// the Writer refuses early, naming what an administrator must grant and
// where. Graph throttles presence per app and tenant: the Writer waits out
// Retry-After while the caller's deadline allows and otherwise says when to
// try again (docs/graph.md#writing-presence).
//
// Errors, for the API to answer: *InvalidError (nothing sent: 422, with the
// pairs allowed), *PermissionError (the tenant must grant
// Presence.ReadWrite.All: 409), *ThrottledError (try again at RetryAt: 202
// and an operation to poll), ErrUserNotFound (404). Anything else is Graph
// refusing otherwise (a *graphapi.Error), the identity platform refusing
// the tenant's token (an *identity.Error; identity.TenantProblemOf tells a
// tenant-wide one) or the database.
package writeback

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/engine"
)

// Clients give the Writer a tenant's app-only Graph client
// (*engine.GraphClients, whose token cache the engine's reads share).
type Clients interface {
	Writer(ctx context.Context, tenantID uuid.UUID) (engine.AppWriter, error)
	// CheckAccess asks the identity platform for a fresh token, so a
	// permission granted since the cached one was issued shows.
	CheckAccess(ctx context.Context, tenantID uuid.UUID) (engine.Access, error)
}

// Echoes records the states the Writer sets, for the intake to recognise
// when Graph reports them (*store.Store).
type Echoes interface {
	RecordEcho(ctx context.Context, tenantID, userID uuid.UUID, availability, activity string, ttl time.Duration) error
}

// Options configure a Writer; Clients and Echoes are required.
type Options struct {
	Clients Clients
	Echoes  Echoes
	// MaxWait bounds the time spent waiting out Graph's throttling when
	// the caller's context has no deadline (default 30 s).
	MaxWait time.Duration
	// EchoTTL is how long a state set is taken for our own when Graph
	// reports it (default EchoTTL).
	EchoTTL time.Duration
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger
}

// EchoTTL is how long Graph's report of a state we set counts as an echo.
// Microsoft quotes presence notifications at 1 minute at most
// (docs/graph.md#presence-subscriptions); the rest leaves room for our own
// intake when it is behind. An echo is used up by the first report that
// matches, so the window matters only when none comes (Teams already
// showed that state): then a real change to the very same state within it
// would go unsent.
const EchoTTL = 3 * time.Minute

// recheckEvery spaces the fresh-token checks of a tenant whose cached
// token lacks Presence.ReadWrite.All: often enough that a grant given in
// answer to the refusal works within a minute, rarely enough that a tenant
// that never grants costs the identity platform one request a minute.
const recheckEvery = time.Minute

// Writer writes presence into Teams. It is safe for concurrent use.
type Writer struct {
	opts Options

	mu      sync.Mutex
	checked map[uuid.UUID]time.Time // last fresh-token check per tenant
}

// New returns a Writer.
func New(opts Options) *Writer {
	if opts.MaxWait <= 0 {
		opts.MaxWait = 30 * time.Second
	}
	if opts.EchoTTL <= 0 {
		opts.EchoTTL = EchoTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Writer{opts: opts, checked: map[uuid.UUID]time.Time{}}
}

// SetRequest is a presence to set: an availability with its activity and
// how long it lasts.
type SetRequest struct {
	Availability string
	Activity     string
	// Expires is the session's lifetime: 5 minutes to 4 hours, 0 for
	// presence.DefaultSessionExpiry. For a preferred presence any positive
	// duration, 0 for Graph's default (a day for Busy and DoNotDisturb, a
	// week otherwise).
	Expires time.Duration
}

// StatusRequest is a status message; an empty Message clears it, a zero
// Expires keeps it until changed.
type StatusRequest struct {
	Message string
	Expires time.Time
}

// Result is what a write did.
type Result struct {
	// Availability and Activity are what was set, spelt as Graph spells
	// them ("" for clears and status messages).
	Availability, Activity string
	// Expires is when Graph ends what was set (zero: never, or a clear).
	Expires time.Time
	// RefreshBy is when the caller must set the same presence again to
	// keep it showing: an Available session fades after 5 minutes without
	// being set again, whatever its expiry; otherwise Expires.
	RefreshBy time.Time
	// Attempts counts the requests sent to Graph (more than one when
	// Graph throttled and the wait fitted the deadline).
	Attempts int
	// NoSession: ClearPresence found no session of ours to end (Graph's
	// 404), so nothing changed.
	NoSession bool
}
