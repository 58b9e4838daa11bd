package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/templates"
)

// MonitorSignIns runs a monitor's "Authorize now" for another surface
// that shares these sessions (the portal's Monitors page). The sign-in
// comes back through /onboarding/monitors/callback — the one monitor
// redirect URI every app registration has, ours and each own app's —
// which returns the browser to the surface's page and keeps the outcome
// for it (Outcome).
type MonitorSignIns struct{ h *handler }

// NewMonitorSignIns returns MonitorSignIns over d (Service, Sessions, Now).
func NewMonitorSignIns(d Deps) *MonitorSignIns {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &MonitorSignIns{h: &handler{svc: d.Service, sessions: d.Sessions, logger: d.Logger, now: d.Now}}
}

// Start sends the browser to Microsoft to sign in the monitor, as actor;
// back is the path (of this site) the browser returns to. What stops it
// (consent missing, no such monitor) goes to onProblem to show.
func (m *MonitorSignIns) Start(w http.ResponseWriter, r *http.Request, tenantID, monitorID uuid.UUID, actor, back string,
	onProblem func(*templates.Notice)) {
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = "/"
	}
	p := pending{Kind: kindMonitor, Tenant: tenantID, Monitor: monitorID, Actor: actor, Return: back}
	p.State = newState()
	si, err := m.h.svc.StartMonitorSignIn(r.Context(), tenantID, monitorID, p.State)
	if errors.Is(err, store.ErrMonitorNotFound) {
		onProblem(&templates.Notice{Title: "This monitor is not there any more.", Detail: "It may have been deleted."})
		return
	}
	if n, ok := problem(err); ok {
		onProblem(n)
		return
	}
	if err != nil {
		onProblem(&templates.Notice{Title: "Presence Bridge could not start the sign-in.", Detail: "Try again in a minute."})
		m.h.logger.ErrorContext(r.Context(), "onboarding: start monitor sign-in", "monitor", monitorID, "err", err)
		return
	}
	p.Expires, p.Verifier, p.Nonce = m.h.now().Add(stateTTL), si.Verifier, si.Nonce
	m.h.remember(r.Context(), p)
	redirect(w, r, si.URL)
}

const sessionReturnNotice = "monitor-signin-outcome"

// Outcome is what the last sign-in that returned said, once.
func (m *MonitorSignIns) Outcome(ctx context.Context) *templates.Notice {
	b := m.h.sessions.PopBytes(ctx, sessionReturnNotice)
	var n templates.Notice
	if b == nil || json.Unmarshal(b, &n) != nil {
		return nil
	}
	return &n
}

// returnSignIn ends a sign-in another surface started: its outcome kept
// for that surface, the browser sent back to it.
func (h *handler) returnSignIn(w http.ResponseWriter, r *http.Request, p pending, err error) {
	n := done("The monitor is authorized.", "Its users move to it within a minute.")
	if errors.Is(err, store.ErrMonitorNotFound) {
		n = templates.Notice{Title: "This monitor is not there any more.", Detail: "It was deleted while it signed in."}
	} else if pn, ok := problem(err); ok {
		n = *pn
	} else if err != nil {
		h.fail(w, r, "finish monitor sign-in", err)
		return
	}
	b, _ := json.Marshal(n)
	h.sessions.Put(r.Context(), sessionReturnNotice, b)
	redirect(w, r, p.Return)
}
