package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/google/uuid"

	"presencebridge/internal/presence"
	"presencebridge/internal/store"
	"presencebridge/web"
)

// The event stream, GET /api/v1/events: Server-Sent Events for platforms
// that connect out rather than accept webhooks. The SSE id is the event's
// position in the tenant's stream, a cursor to resume from with
// Last-Event-ID; the event's identity is data.eventId, the webhook-id of
// the same event.

type eventsInput struct {
	LastEventID      string `header:"Last-Event-ID" doc:"Resume after this event (the id of the last event received). Absent: start with the next event to happen."`
	LastEventIDQuery string `query:"lastEventId" doc:"The same, for clients that cannot set headers."`
}

func (d Deps) registerEvents(api huma.API) {
	op := operation("stream-events", http.MethodGet, "/events", "Stream presence events (Server-Sent Events)", store.ScopeEventsRead, "Events")
	op.Description = "Each event is `id: <position>`, `event: " + presence.EventType + "`, `data: <the event as JSON, as webhooks carry it>`. " +
		"`data.source` says why the event was sent: `notification` (Teams changed, Graph told us), `repair` (a re-read found a change " +
		"notifications missed) or `sync` (POST /sync asked for the current state: sent changed or not). " +
		"A comment line is sent as heartbeat while idle. When the instance serving it shuts down, the stream ends with a comment " +
		"and a short `retry`. Reconnect with Last-Event-ID to resume without loss. The stream ends, with a comment saying why, " +
		"within seconds of its key ceasing to work (revoked or expired, its tenant suspended or deleted); connecting again is refused with 401."
	op.Errors = append(op.Errors, http.StatusBadRequest)
	op.Responses = map[string]*huma.Response{"200": {
		Description: "The stream: text/event-stream, open until the client leaves.",
		Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string"}}},
	}}
	register(api, op, func(ctx context.Context, in *eventsInput) (*huma.StreamResponse, error) {
		tenant := keyOf(ctx).TenantID
		newest, err := d.Store.StreamPosition(ctx, tenant)
		if err != nil {
			return nil, d.unavailable(ctx, "stream position", err)
		}
		last := newest
		if v := in.LastEventID + in.LastEventIDQuery; v != "" {
			if in.LastEventID != "" {
				v = in.LastEventID
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, huma.Error400BadRequest("Last-Event-ID must be the id of an event received before.")
			}
			if n > newest {
				// Waiting silently would hide a client bug, or a stream from
				// another deployment: its events would never come.
				return nil, huma.Error400BadRequest(fmt.Sprintf("Last-Event-ID %d is after this tenant's newest event (%d): it was not "+
					"received from this stream. Reconnect without Last-Event-ID to start with the next event.", n, newest))
			}
			last = n
		}
		secret := secretOf(ctx)
		return &huma.StreamResponse{Body: func(hctx huma.Context) { d.stream(hctx, tenant, secret, last) }}, nil
	})
}

// stream writes the tenant's events after position last, then new ones as
// they commit, with a comment line as heartbeat, until the client leaves,
// the server shuts down or the key (secret) stops working: it is checked
// again whenever the key cache says the tenant's keys changed (a key
// revoked, the tenant suspended or deleted) and at every heartbeat.
func (d Deps) stream(hctx huma.Context, tenant uuid.UUID, secret string, last int64) {
	ctx := hctx.Context()
	w := hctx.BodyWriter()
	_, rw := humachi.Unwrap(hctx)
	rc := http.NewResponseController(rw) // flushes through wrapping writers
	stopping := web.Stopping(ctx)
	wake, stop := d.Subscribe(tenant)
	defer stop()
	keysChanged, stopWatching := d.Keys.Watch(tenant)
	defer stopWatching()
	// A change announced between the key check and Watch would go unseen.
	if !d.keyWorks(ctx, secret, store.ScopeEventsRead) {
		web.Problem(rw, http.StatusUnauthorized, http.StatusText(http.StatusUnauthorized), keyStopped)
		return
	}
	hctx.SetHeader("Content-Type", "text/event-stream")
	hctx.SetHeader("Cache-Control", "no-store")
	hctx.SetHeader("X-Accel-Buffering", "no")
	hctx.SetStatus(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	rc.Flush()
	heartbeat := time.NewTicker(d.Heartbeat)
	defer heartbeat.Stop()
	for {
		for {
			evs, err := d.Store.EventsAfter(ctx, tenant, last, 500)
			if err != nil {
				return // the client reconnects with Last-Event-ID
			}
			for _, e := range evs {
				data, _ := json.Marshal(presence.NewEvent(e.Data))
				fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Position, presence.EventType, data)
				last = e.Position
			}
			rc.Flush()
			if len(evs) < 500 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-stopping:
			// This instance is going away: the client comes back, to one
			// that stays, and resumes with Last-Event-ID. The retry is
			// spread so that a thousand streams do not land at one instant.
			fmt.Fprintf(w, ": server shutting down\nretry: %d\n\n", 500+rand.IntN(2000))
			rc.Flush()
			return
		case <-wake:
		case <-keysChanged:
			if !d.keyWorks(ctx, secret, store.ScopeEventsRead) {
				endStream(w, rc)
				return
			}
		case <-heartbeat.C:
			if !d.keyWorks(ctx, secret, store.ScopeEventsRead) {
				endStream(w, rc)
				return
			}
			fmt.Fprint(w, ": keep-alive\n\n")
			rc.Flush()
		}
	}
}

// keyStopped says why a stream ends, or is refused, once it has begun.
const keyStopped = "The API key is unknown, revoked or expired, or its tenant is suspended."

// endStream ends a stream whose key stopped working, saying so; the
// client's reconnection is refused by the key check, as any request would be.
func endStream(w io.Writer, rc *http.ResponseController) {
	fmt.Fprint(w, ": "+keyStopped+"\n\n")
	rc.Flush()
}
