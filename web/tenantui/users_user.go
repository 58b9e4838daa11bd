package tenantui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/store"
	"presencebridge/internal/tenantview"
	"presencebridge/templates"
)

// timelineLength is how many of a user's latest events the page shows.
const timelineLength = 50

// user is one user's page: the roster row, the presence now (and as the
// API answers it, to copy), and the timeline of what the store keeps.
func (h *handler) user(w http.ResponseWriter, r *http.Request) {
	ctx, vw := r.Context(), h.Viewer(r)
	ref := chi.URLParam(r, "ref")
	u, err := h.Store.FindDirectoryUser(ctx, vw.TenantID, ref)
	if errors.Is(err, store.ErrUserNotFound) {
		h.render(w, r, http.StatusNotFound, templates.TenantMessage(h.frame(r, "users"), "No such user", templates.Notice{
			Title: ref + " is not on the roster."}))
		return
	}
	if err != nil {
		h.fail(w, r, "find user", err)
		return
	}
	v := templates.TenantUserView{Base: vw.Base, UPN: u.UPN, DisplayName: u.DisplayName, ExternalID: u.ExternalID,
		Source: u.Source, Reason: u.Error}
	v.State, v.Badge = UserState(u)
	if u.MonitorID != nil {
		if v.Monitor, err = h.coverage(r, *u.MonitorID); err != nil {
			h.fail(w, r, "read user's monitor", err)
			return
		}
	}
	if u.ObjectID != nil && u.Status == store.UserResolved {
		v.ObjectID = u.ObjectID.String()
		if err := h.presenceOf(r, u, &v); err != nil {
			h.fail(w, r, "read user presence", err)
			return
		}
		v.SyncAction = vw.Base + "/users/u/" + url.PathEscape(u.UPN) + "/sync"
	}
	h.render(w, r, http.StatusOK, templates.TenantUser(h.frame(r, "users"), v))
}

// presenceOf fills in the resolved user's presence, its JSON and timeline.
func (h *handler) presenceOf(r *http.Request, u store.DirectoryUser, v *templates.TenantUserView) error {
	ctx, tenant := r.Context(), h.Viewer(r).TenantID
	p, err := h.Store.FindUserPresence(ctx, tenant, u.ObjectID.String())
	if err != nil {
		return err
	}
	// Byte for byte the API's body, which encoding/json ends with a newline.
	v.JSON = string(append(tenantview.AppendPresenceJSON(nil, &p), '\n'))
	v.Presence = &templates.TenantPresence{Availability: tenantview.UnknownPresence, Activity: tenantview.UnknownPresence,
		State: "unknown", Sequence: p.Sequence}
	if p.Known {
		v.Presence.Availability, v.Presence.Activity, v.Presence.State = p.Availability, p.Activity, p.MappedState
		v.Presence.ObservedAt = when(p.ObservedAt)
	}
	if !p.HeldUntil.IsZero() {
		v.Presence.HeldUntil = when(p.HeldUntil)
	}
	v.Live = h.live(r, u.ObjectID.String())
	events, err := h.Store.UserTimeline(ctx, tenant, *u.ObjectID, timelineLength)
	if err != nil {
		return err
	}
	for _, e := range events {
		te := templates.TenantTimelineEvent{At: when(e.ObservedAt), Source: sourceWords[e.Source], Graph: e.Availability + " / " + e.Activity,
			Mapped: e.MappedState, Sequence: e.Sequence, Note: suppressedWords[e.Suppressed]}
		if te.Source == "" {
			te.Source = e.Source
		}
		for _, d := range e.Deliveries {
			td := templates.TenantTimelineDelivery{Endpoint: d.EndpointURL, Status: d.Status, Attempts: d.Attempts, Badge: deliveryBadge[d.Status]}
			switch {
			case d.LastStatus != nil && d.LastError != "" && d.LastError != fmt.Sprintf("HTTP %d", *d.LastStatus):
				td.Response = fmt.Sprintf("HTTP %d: %s", *d.LastStatus, d.LastError)
			case d.LastStatus != nil:
				td.Response = fmt.Sprintf("HTTP %d", *d.LastStatus)
			case d.LastError != "":
				td.Response = "no answer: " + d.LastError
			}
			te.Deliveries = append(te.Deliveries, td)
		}
		v.Timeline = append(v.Timeline, te)
	}
	return nil
}

var sourceWords = map[string]string{
	"notification": "Graph change notification",
	"repair":       "re-read from Graph (repair)",
	"sync":         "re-read from Graph (re-sync)",
	"api":          "set through the API",
	"echo":         "our own presence write coming back",
}

var suppressedWords = map[string]string{
	"echo":       "Not sent: our own presence write coming back.",
	"debounce":   "Not sent: talking resumed within the debounce window.",
	"superseded": "Not sent: a newer change replaced it.",
}

var deliveryBadge = map[string]string{
	store.DeliveryDelivered:  "ok",
	store.DeliveryPending:    "pending",
	store.DeliveryDead:       "bad",
	store.DeliverySuperseded: "pending",
}

// liveTimeout bounds the page's read of Graph: a slow Graph shows as an
// error beside the stored presence rather than holding the page.
const liveTimeout = 3 * time.Second

// live reads the user's presence from Graph now, for support to compare
// with what the store holds (nil when the surface reads none).
func (h *handler) live(r *http.Request, objectID string) *templates.TenantLivePresence {
	if h.LivePresence == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), liveTimeout)
	defer cancel()
	p, err := h.LivePresence(ctx, h.Viewer(r).TenantID, objectID)
	if err != nil {
		return &templates.TenantLivePresence{Error: err.Error()}
	}
	return &templates.TenantLivePresence{Availability: p.Availability, Activity: p.Activity}
}

// coverage is the monitor a user is assigned to and its subscription.
func (h *handler) coverage(r *http.Request, monitorID uuid.UUID) (*templates.TenantUserMonitor, error) {
	ctx, tenant := r.Context(), h.Viewer(r).TenantID
	m, err := h.Store.GetMonitor(ctx, tenant, monitorID)
	if err != nil {
		return nil, err
	}
	c := &templates.TenantUserMonitor{UPN: m.UPN, Status: statusWords(m.Status), Subscription: "none at Microsoft"}
	sub, err := h.Store.SubscriptionForMonitor(ctx, tenant, monitorID)
	switch {
	case errors.Is(err, store.ErrSubscriptionNotFound):
	case err != nil:
		return nil, err
	case sub.GraphID != "" && sub.ExpiresAt != nil && sub.ExpiresAt.After(h.Now()):
		c.Subscription = "expires " + when(*sub.ExpiresAt)
	case sub.GraphID != "" && sub.ExpiresAt != nil:
		c.Subscription = "expired " + when(*sub.ExpiresAt)
	}
	return c, nil
}
