package graphsim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// MaxPresenceIDs is the most user ids one getPresencesByUserId call or one
// presence subscription may name (docs/graph.md#presence-reads, docs/graph.md#presence-subscriptions).
const MaxPresenceIDs = 650

func (s *Sim) presenceRoutes(r chi.Router) {
	r.Get("/me/presence", s.getMyPresence)
	r.Get("/users/{user}/presence", s.getUserPresence)
	r.Get("/communications/presences/{user}", s.getUserPresence)
	r.Post("/communications/getPresencesByUserId", s.getPresencesByUserID)
	r.Post("/users/{user}/presence/setPresence", s.setPresence)
	r.Post("/users/{user}/presence/clearPresence", s.clearPresence)
	r.Post("/users/{user}/presence/setUserPreferredPresence", s.setUserPreferredPresence)
	r.Post("/users/{user}/presence/clearUserPreferredPresence", s.clearUserPreferredPresence)
	r.Post("/users/{user}/presence/setStatusMessage", s.setStatusMessage)
}

type presenceEntity struct {
	Context string `json:"@odata.context,omitempty"`
	Presence
}

// viewed is p as another user (or an app) sees it: the status message's
// expiry and publish time are the owner's business (docs/graph.md#setting-presence).
func viewed(p Presence, viewer uuid.UUID) Presence {
	if p.StatusMessage != nil && viewer != p.ID {
		sm := *p.StatusMessage
		sm.ExpiryDateTime, sm.PublishedDateTime = nil, nil
		p.StatusMessage = &sm
	}
	return p
}

func (s *Sim) getMyPresence(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !p.Delegated() {
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
			"/me request is only valid with delegated authentication flow.")
		return
	}
	if !requireScope(w, r, "Forbidden", "Presence.Read", "Presence.Read.All") || !s.admit(w, r, p, classPresence) {
		return
	}
	writeJSON(w, http.StatusOK, presenceEntity{Context: s.odataContext("users('" + p.UserID.String() + "')/presence/$entity"),
		Presence: s.currentPresence(p.UserID)})
}

func (s *Sim) getUserPresence(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !requireScope(w, r, "Forbidden", "Presence.Read.All") || !s.admit(w, r, p, classPresence) {
		return
	}
	u := s.lookupUser(w, r, chi.URLParam(r, "user"))
	if u == nil {
		return
	}
	writeJSON(w, http.StatusOK, presenceEntity{Context: s.odataContext("users('" + u.ID.String() + "')/presence/$entity"),
		Presence: viewed(s.currentPresence(u.ID), p.UserID)})
}

func (s *Sim) getPresencesByUserID(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if !requireScope(w, r, "Forbidden", "Presence.Read.All") || !s.admit(w, r, p, classPresence) {
		return
	}
	var body struct {
		IDs []string `json:"ids"`
	}
	if !readGraphJSON(w, r, &body) {
		return
	}
	switch {
	case len(body.IDs) == 0:
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest", "The request must contain at least one user id in 'ids'.")
		return
	case len(body.IDs) > MaxPresenceIDs:
		writeGraphError(w, r, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("The number of user ids in the request (%d) exceeds the limit of %d.", len(body.IDs), MaxPresenceIDs))
		return
	}
	ids := make([]uuid.UUID, len(body.IDs))
	for i, raw := range body.IDs {
		id, err := uuid.Parse(raw)
		if err != nil || len(raw) != 36 {
			writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid user id '%s': ids must be Microsoft Entra object ids (GUIDs).", raw))
			return
		}
		ids[i] = id
	}
	s.mu.RLock()
	t := s.tenants[p.TenantID]
	known := make([]bool, len(ids))
	for i, id := range ids {
		_, known[i] = t.users[id]
	}
	s.mu.RUnlock()
	var read []uuid.UUID
	for i, id := range ids {
		if known[i] {
			read = append(read, id)
		}
	}
	current := s.readPresences(read, s.clock())
	out := make([]Presence, 0, len(ids))
	for i, id := range ids {
		if !known[i] { // ids outside the tenant read as unknown rather than failing the batch
			out = append(out, Presence{ID: id, Availability: "PresenceUnknown", Activity: "PresenceUnknown"})
			continue
		}
		out = append(out, viewed(current[0], p.UserID))
		current = current[1:]
	}
	s.presencesRead.Add(int64(len(out)))
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": s.odataContext("Collection(microsoft.graph.presence)"),
		"value":          out,
	})
}

// presenceWriter checks the caller may change u's presence: an app with
// Presence.ReadWrite.All, or the user themself with Presence.ReadWrite
// (docs/graph.md#setting-presence). It answers every refusal itself.
func (s *Sim) presenceWriter(w http.ResponseWriter, r *http.Request) *User {
	p := principal(r)
	if !s.admit(w, r, p, classPresence) {
		return nil
	}
	u := s.lookupUser(w, r, chi.URLParam(r, "user"))
	if u == nil {
		return nil
	}
	switch {
	case p.Has("Presence.ReadWrite.All"), p.Delegated() && p.UserID == u.ID && p.Has("Presence.ReadWrite"):
		return u
	case p.Delegated() && p.Has("Presence.ReadWrite"):
		// Delegated Presence.ReadWrite covers the signed-in user only.
		writeGraphError(w, r, http.StatusForbidden, "Forbidden",
			"The signed-in user may only change their own presence: this requires Presence.ReadWrite.All.")
	case p.Delegated():
		requireScope(w, r, "Forbidden", "Presence.ReadWrite")
	default:
		// Presence.ReadWrite is delegated only: an app token naming it has
		// no permission to write, and is refused like one naming nothing.
		requireScope(w, r, "Forbidden", "Presence.ReadWrite.All")
	}
	return nil
}

// setPresenceCombos are the (availability, activity) pairs setPresence
// accepts (docs/graph.md#setting-presence).
var setPresenceCombos = map[[2]string]bool{
	{"available", "available"}: true, {"busy", "inacall"}: true, {"busy", "inaconferencecall"}: true,
	{"away", "away"}: true, {"donotdisturb", "presenting"}: true,
}

// preferredCombos are the pairs setUserPreferredPresence accepts (docs/graph.md#setting-presence).
var preferredCombos = map[[2]string]bool{
	{"available", "available"}: true, {"busy", "busy"}: true, {"donotdisturb", "donotdisturb"}: true,
	{"berightback", "berightback"}: true, {"away", "away"}: true, {"offline", "offwork"}: true,
}

var canonical = map[string]string{}

func init() {
	for _, v := range []string{"Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle", "DoNotDisturb",
		"Offline", "PresenceUnknown", "InACall", "InAConferenceCall", "Inactive", "InAMeeting", "OffWork",
		"OutOfOffice", "Presenting", "UrgentInterruptionsOnly"} {
		canonical[strings.ToLower(v)] = v
	}
}

// canon spells a presence value as Graph returns it.
func canon(v string) string {
	if c, ok := canonical[strings.ToLower(v)]; ok {
		return c
	}
	return v
}

func badRequest(w http.ResponseWriter, r *http.Request, format string, args ...any) {
	writeGraphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf(format, args...))
}

func (s *Sim) setPresence(w http.ResponseWriter, r *http.Request) {
	u := s.presenceWriter(w, r)
	if u == nil {
		return
	}
	var body struct {
		SessionID          string `json:"sessionId"`
		Availability       string `json:"availability"`
		Activity           string `json:"activity"`
		ExpirationDuration string `json:"expirationDuration"`
	}
	if !readGraphJSON(w, r, &body) {
		return
	}
	p := principal(r)
	if !strings.EqualFold(body.SessionID, p.AppID) {
		badRequest(w, r, "The sessionId '%s' must be the application (client) id of the calling application.", body.SessionID)
		return
	}
	if !setPresenceCombos[[2]string{strings.ToLower(body.Availability), strings.ToLower(body.Activity)}] {
		badRequest(w, r, "The presence combination availability '%s' and activity '%s' is not supported.", body.Availability, body.Activity)
		return
	}
	exp := minSessionExpiration
	if body.ExpirationDuration != "" {
		d, ok := parseISODuration(body.ExpirationDuration)
		if !ok || d < minSessionExpiration || d > maxSessionExpiration {
			badRequest(w, r, "The expirationDuration '%s' is invalid: it must be an ISO 8601 duration between PT5M and PT4H.", body.ExpirationDuration)
			return
		}
		exp = d
	}
	now := s.clock()
	s.updatePresence(u.TenantID, u.ID, now, func(up *userPresence) error {
		up.sessions[strings.ToLower(p.AppID)] = &presenceSession{availability: canon(body.Availability), activity: canon(body.Activity),
			refreshed: now, expires: now.Add(exp)}
		return nil
	})
	w.WriteHeader(http.StatusOK)
}

var errNoSession = errors.New("no session")

func (s *Sim) clearPresence(w http.ResponseWriter, r *http.Request) {
	u := s.presenceWriter(w, r)
	if u == nil {
		return
	}
	var body struct {
		SessionID string `json:"sessionId"`
	}
	if !readGraphJSON(w, r, &body) {
		return
	}
	if !strings.EqualFold(body.SessionID, principal(r).AppID) {
		badRequest(w, r, "The sessionId '%s' must be the application (client) id of the calling application.", body.SessionID)
		return
	}
	err := s.updatePresence(u.TenantID, u.ID, s.clock(), func(up *userPresence) error {
		k := strings.ToLower(body.SessionID)
		if up.sessions[k] == nil {
			return errNoSession
		}
		delete(up.sessions, k)
		return nil
	})
	if err != nil { // documented: 404 when the session does not exist (docs/graph.md#setting-presence)
		writeGraphError(w, r, http.StatusNotFound, "NotFound", fmt.Sprintf("The presence session '%s' was not found for user '%s'.", body.SessionID, u.ID))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Sim) setUserPreferredPresence(w http.ResponseWriter, r *http.Request) {
	u := s.presenceWriter(w, r)
	if u == nil {
		return
	}
	var body struct {
		Availability       string `json:"availability"`
		Activity           string `json:"activity"`
		ExpirationDuration string `json:"expirationDuration"`
	}
	if !readGraphJSON(w, r, &body) {
		return
	}
	a := strings.ToLower(body.Availability)
	if !preferredCombos[[2]string{a, strings.ToLower(body.Activity)}] {
		badRequest(w, r, "The presence combination availability '%s' and activity '%s' is not supported.", body.Availability, body.Activity)
		return
	}
	exp := 7 * 24 * time.Hour // documented defaults (docs/graph.md#setting-presence)
	if a == "busy" || a == "donotdisturb" {
		exp = 24 * time.Hour
	}
	if body.ExpirationDuration != "" {
		d, ok := parseISODuration(body.ExpirationDuration)
		if !ok || d <= 0 {
			badRequest(w, r, "The expirationDuration '%s' is not a valid ISO 8601 duration.", body.ExpirationDuration)
			return
		}
		exp = d
	}
	now := s.clock()
	s.updatePresence(u.TenantID, u.ID, now, func(up *userPresence) error {
		up.preferred = &preferredPresence{availability: canon(body.Availability), activity: canon(body.Activity), expires: now.Add(exp)}
		return nil
	})
	w.WriteHeader(http.StatusOK)
}

func (s *Sim) clearUserPreferredPresence(w http.ResponseWriter, r *http.Request) {
	u := s.presenceWriter(w, r)
	if u == nil {
		return
	}
	s.updatePresence(u.TenantID, u.ID, s.clock(), func(up *userPresence) error {
		up.preferred = nil
		return nil
	})
	w.WriteHeader(http.StatusOK)
}

// windowsZones maps the Windows time zone names Graph uses to IANA names.
var windowsZones = map[string]string{
	"utc": "UTC", "pacific standard time": "America/Los_Angeles", "eastern standard time": "America/New_York",
	"central standard time": "America/Chicago", "mountain standard time": "America/Denver",
	"gmt standard time": "Europe/London", "w. europe standard time": "Europe/Berlin",
	"romance standard time": "Europe/Paris", "central europe standard time": "Europe/Budapest",
	"tokyo standard time": "Asia/Tokyo", "india standard time": "Asia/Kolkata", "aus eastern standard time": "Australia/Sydney",
}

func (s *Sim) setStatusMessage(w http.ResponseWriter, r *http.Request) {
	u := s.presenceWriter(w, r)
	if u == nil {
		return
	}
	var body struct {
		StatusMessage *StatusMessage `json:"statusMessage"`
	}
	if !readGraphJSON(w, r, &body) {
		return
	}
	sm := body.StatusMessage
	if sm == nil {
		badRequest(w, r, "The property 'statusMessage' is required.")
		return
	}
	if sm.Message.ContentType == "" {
		sm.Message.ContentType = "text"
	}
	if !strings.EqualFold(sm.Message.ContentType, "text") {
		badRequest(w, r, "Only the 'text' content type is supported for a status message.")
		return
	}
	now := s.clock()
	var expires time.Time
	if e := sm.ExpiryDateTime; e != nil {
		if strings.ContainsAny(strings.TrimPrefix(e.DateTime[min(len(e.DateTime), 10):], "T"), "Z+") ||
			strings.Count(e.DateTime[min(len(e.DateTime), 10):], "-") > 0 {
			badRequest(w, r, "The expiryDateTime.dateTime '%s' must not include a time zone offset.", e.DateTime)
			return
		}
		zone := e.TimeZone
		if iana, ok := windowsZones[strings.ToLower(zone)]; ok {
			zone = iana
		}
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" {
			badRequest(w, r, "The time zone '%s' is not supported.", e.TimeZone)
			return
		}
		t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", e.DateTime, loc)
		if err != nil {
			badRequest(w, r, "The expiryDateTime.dateTime '%s' is not a valid date and time.", e.DateTime)
			return
		}
		expires = t
	}
	pub := now.UTC()
	sm.PublishedDateTime = &pub
	s.updatePresence(u.TenantID, u.ID, now, func(up *userPresence) error {
		if sm.Message.Content == "" {
			up.status, up.statusExp = nil, time.Time{}
			return nil
		}
		up.status, up.statusExp = sm, expires
		return nil
	})
	w.WriteHeader(http.StatusOK)
}

// PresenceReadAt is when getPresencesByUserId last answered the user's
// presence; false if it never did.
func (s *Sim) PresenceReadAt(id uuid.UUID) (time.Time, bool) {
	b := s.presence
	b.mu.Lock()
	u := b.users[id]
	var at time.Time
	if u != nil {
		at = u.readAt
	}
	b.mu.Unlock()
	if !at.IsZero() {
		return at, true
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	ns, ok := s.readAt[id]
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}
