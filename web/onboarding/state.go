package onboarding

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"presencebridge/templates"
)

// stateTTL is how long a sign-in at Microsoft may take before its
// response is refused.
const stateTTL = 10 * time.Minute

// maxPending bounds the sign-ins a session may have in flight (tabs
// abandoned half-way); the oldest are dropped beyond it.
const maxPending = 10

const sessionPending = "oauth"

// Kinds of sign-in.
const (
	kindConsent = "consent"
	kindMonitor = "monitor"
	kindSignIn  = "signin" // the administrator's sign-in an invitation asks for
)

// pending is a sign-in started in this browser session, waiting for its
// callback. It lives only in the server-side session, never in a URL.
type pending struct {
	Kind    string    `json:"k"`
	State   string    `json:"s"`
	Expires time.Time `json:"e"`
	Tenant  uuid.UUID `json:"t"`
	Monitor uuid.UUID `json:"m,omitempty"`
	Invite  uuid.UUID `json:"i,omitempty"`
	// ViaLink: started from a Copy URL by the monitor's holder, not by the admin.
	ViaLink bool `json:"l,omitempty"`
	// Return: started by another surface (the portal's Monitors), which
	// gets the browser back at this path of ours (MonitorSignIns).
	Return   string `json:"r,omitempty"`
	Actor    string `json:"a"`
	Verifier string `json:"v,omitempty"` // PKCE
	Nonce    string `json:"n,omitempty"`
}

// newState is the OAuth state: 128 random bits or more (crypto/rand.Text).
func newState() string { return rand.Text() }

func (h *handler) pendings(ctx context.Context) []pending {
	var ps []pending
	if b := h.sessions.GetBytes(ctx, sessionPending); b != nil {
		json.Unmarshal(b, &ps) // a session from an older release: start afresh
	}
	return ps
}

func (h *handler) savePendings(ctx context.Context, ps []pending) {
	b, _ := json.Marshal(ps)
	h.sessions.Put(ctx, sessionPending, b)
}

// remember keeps p in the session. A new consent replaces an earlier one;
// monitor sign-ins may run side by side (one per tab).
func (h *handler) remember(ctx context.Context, p pending) {
	now := h.now()
	ps := slices.DeleteFunc(h.pendings(ctx), func(x pending) bool {
		return !now.Before(x.Expires) || (p.Kind != kindMonitor && x.Kind == p.Kind)
	})
	ps = append(ps, p)
	if len(ps) > maxPending {
		ps = ps[len(ps)-maxPending:]
	}
	h.savePendings(ctx, ps)
}

var (
	errStateUnknown = errors.New("state unknown to this session")
	errStateExpired = errors.New("state expired")
)

// take finds the sign-in of kind whose state is state (compared in
// constant time) and removes it: a state works once, even when it has
// expired.
func (h *handler) take(ctx context.Context, kind, state string) (pending, error) {
	if state == "" {
		return pending{}, errStateUnknown
	}
	ps := h.pendings(ctx)
	for i, p := range ps {
		if p.Kind != kind || subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) != 1 {
			continue
		}
		h.savePendings(ctx, slices.Delete(ps, i, i+1))
		if !h.now().Before(p.Expires) {
			return p, errStateExpired
		}
		return p, nil
	}
	return pending{}, errStateUnknown
}

// stateRefused answers a callback whose state is missing, forged, replayed
// or expired: 400, and nothing changes.
func (h *handler) stateRefused(w http.ResponseWriter, r *http.Request, err error) {
	n := templates.Notice{Title: "This sign-in response was refused.",
		Detail: "It does not belong to a sign-in started in this browser, or it was already used. " +
			"Go back to the onboarding page (or your Copy URL) and start the sign-in again."}
	if errors.Is(err, errStateExpired) {
		n = templates.Notice{Title: "This sign-in took too long.",
			Detail: "A sign-in must finish within 10 minutes. Go back to the onboarding page (or your Copy URL) and start it again."}
	}
	h.message(w, r, http.StatusBadRequest, "Sign-in not accepted", n)
}

// --- flash notices -------------------------------------------------------------

const sessionFlash = "flash"

type flash struct {
	Step   string `json:"s"`
	Title  string `json:"t"`
	Detail string `json:"d"`
	OK     bool   `json:"ok"`
}

// flash keeps a notice for the next page view, shown in step's section.
func (h *handler) flash(ctx context.Context, step string, n templates.Notice) {
	b, _ := json.Marshal(flash{Step: step, Title: n.Title, Detail: n.Detail, OK: n.OK})
	h.sessions.Put(ctx, sessionFlash, b)
}

func (h *handler) popFlash(ctx context.Context) (string, *templates.Notice) {
	b := h.sessions.PopBytes(ctx, sessionFlash)
	if b == nil {
		return "", nil
	}
	var f flash
	if json.Unmarshal(b, &f) != nil {
		return "", nil
	}
	return f.Step, &templates.Notice{Title: f.Title, Detail: f.Detail, OK: f.OK}
}
