// Package api is the tenant REST API for the telephony platform. This
// first part is the event stream, GET /api/v1/events: Server-Sent Events
// for platforms that connect out rather than accept webhooks, resumable
// from Last-Event-ID, authenticated by a per-tenant API key.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/web"
)

// Deps are what the API needs.
type Deps struct {
	Store *store.Store
	// Subscribe wakes a stream when its tenant may have new events
	// (*stream.Hub).
	Subscribe func(tenant uuid.UUID) (<-chan struct{}, func())
	// Heartbeat is the idle keep-alive interval (default 15 s).
	Heartbeat time.Duration
	// Logger receives failures the client sees only as a 503. Nil
	// discards them.
	Logger *slog.Logger
}

// Routes mounts the API (under /api/v1).
func Routes(d Deps) func(chi.Router) {
	if d.Heartbeat <= 0 {
		d.Heartbeat = 15 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return func(r chi.Router) {
		r.Use(d.authenticate)
		r.Get("/events", d.events)
		r.Get("/mapping-rules", d.getRules)
		r.Put("/mapping-rules", d.putRules)
		r.Post("/mapping-rules/preview", d.previewRules)
		r.Get("/endpoints", d.listEndpoints)
		r.Post("/endpoints/{id}/enable", d.enableEndpoint)
		r.Post("/endpoints/{id}/replay", d.replayEndpoint)
		r.Post("/endpoints/{id}/retry", d.retryEndpoint)
	}
}

type tenantKey struct{}

type apiKeyKey struct{} // the key's id: actions name it in the audit log

// authenticate accepts "Authorization: Bearer pbk_…" and puts the key's
// tenant and id in the context; a missing, unknown or revoked key is 401
// problem+json. When the database cannot judge the key the answer is 503
// with Retry-After: a 401 would tell the platform its key is bad, and it
// might discard a good one.
func (d Deps) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="presence-bridge"`)
			web.Problem(w, http.StatusUnauthorized, "API key required", "Send the tenant's API key as Authorization: Bearer pbk_….")
			return
		}
		k, err := d.Store.AuthenticateAPIKey(r.Context(), key)
		if err != nil && !errors.Is(err, store.ErrBadAPIKey) {
			d.Logger.LogAttrs(r.Context(), slog.LevelError, "api key check", slog.String("path", r.URL.Path), slog.Any("err", err))
			w.Header().Set("Retry-After", "5")
			web.Problem(w, http.StatusServiceUnavailable, "Service unavailable", "The key could not be checked just now. Try again shortly.")
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="presence-bridge", error="invalid_token"`)
			web.Problem(w, http.StatusUnauthorized, "Invalid API key", "The key is unknown or was revoked.")
			return
		}
		ctx := context.WithValue(context.WithValue(r.Context(), tenantKey{}, k.TenantID), apiKeyKey{}, k.ID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// events streams the tenant's presence events: first every event after
// Last-Event-ID (the header, or ?lastEventId= for clients that cannot set
// it), then new ones as they commit, with a comment line as heartbeat.
// The SSE id is the event's position in the tenant's stream, a cursor to
// resume from; the event's identity is data.eventId, the webhook-id of the
// same event.
func (d Deps) events(w http.ResponseWriter, r *http.Request) {
	tenant := r.Context().Value(tenantKey{}).(uuid.UUID)
	last := int64(0)
	if v := r.Header.Get("Last-Event-ID"); v != "" || r.URL.Query().Get("lastEventId") != "" {
		if v == "" {
			v = r.URL.Query().Get("lastEventId")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			web.Problem(w, http.StatusBadRequest, "Bad Last-Event-ID", "Last-Event-ID must be the id of an event received before.")
			return
		}
		newest, err := d.Store.StreamPosition(r.Context(), tenant)
		if err != nil {
			web.Problem(w, http.StatusServiceUnavailable, "Stream unavailable", "Try again in a moment.")
			return
		}
		if n > newest {
			// Waiting silently would hide a client bug, or a stream from
			// another deployment: its events would never come.
			web.Problem(w, http.StatusBadRequest, "Last-Event-ID beyond the newest event",
				fmt.Sprintf("Last-Event-ID %d is after this tenant's newest event (%d): it was not received from this stream. "+
					"Reconnect without Last-Event-ID to start from the oldest event kept.", n, newest))
			return
		}
		last = n
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		web.Problem(w, http.StatusInternalServerError, "Streaming unsupported", "")
		return
	}
	wake, stop := d.Subscribe(tenant)
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	heartbeat := time.NewTicker(d.Heartbeat)
	defer heartbeat.Stop()
	for {
		for {
			evs, err := d.Store.EventsAfter(r.Context(), tenant, last, 500)
			if err != nil {
				return // the client reconnects with Last-Event-ID
			}
			for _, e := range evs {
				data, _ := json.Marshal(presence.NewEvent(e.Data))
				fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Position, presence.EventType, data)
				last = e.Position
			}
			flusher.Flush()
			if len(evs) < 500 {
				break
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		}
	}
}
