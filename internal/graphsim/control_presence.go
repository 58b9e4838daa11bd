package graphsim

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// presenceControlRoutes: users' own presence, throttling limits and 429 storms.
func (s *Sim) presenceControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"POST", "/users/{id}/presence", `{"availability": "Busy", "activity": "InACall"}`,
			"set what the user's Teams clients show, as if they joined a call (Offline signs them out); answers the presence Graph now shows", s.ctlSetPresence},
		{"GET", "/users/{id}/presence", "", "the user's presence as Graph shows it", s.ctlGetPresence},
		{"POST", "/users/{id}/out-of-office", `{"on": true, "message": "Back on Monday"}`,
			"turn the user's automatic replies on or off, as Outlook would", s.ctlOutOfOffice},
		{"POST", "/users/{id}/work-location", `{"source": "manual", "workLocationType": "remote", "placeId": ""}`,
			"set one layer of the user's work location (source manual, automatic or scheduled; workLocationType office, remote, timeOff, or unspecified to clear it)", s.ctlWorkLocation},
		{"GET", "/throttle", "", "Graph's limits, the 429 storms in force and the requests throttled by class", s.ctlThrottle},
		{"GET", "/token-calls", "", "count the token requests so far (?clientId=&grant=&user= filter them)", s.ctlTokenCalls},
		{"PUT", "/throttle/limits/{class}", `{"requests": 10, "windowSeconds": 30}`,
			"change one of Graph's limits; {class} is global, presence, subscriptionWrite, subscription or directory", s.ctlSetLimit},
		{"POST", "/faults/throttle", `{"appId": "", "tenantId": "", "class": "presence", "status": 429, "retryAfterSeconds": 2, "delayMs": 0, "times": 5}`,
			"start a storm of 429 (or 503, 504) answers; times 0 lasts until removed; 201 with its id", s.ctlAddStorm},
		{"DELETE", "/faults/throttle/{id}", "", "end a storm", ctlRemove("throttle fault", s.throttle.removeStorm)},
	}
}

func ctlUserID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "user id must be a GUID")
		return uuid.Nil, false
	}
	return id, true
}

// ctlSetPresence sets what the user's Teams clients show, as if the person
// joined a call: {"availability":"Busy","activity":"InACall"}.
// Availability Offline signs the clients out.
func (s *Sim) ctlSetPresence(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Availability string `json:"availability"`
		Activity     string `json:"activity"`
	}
	s.ctlChange(w, r, &body, func(id uuid.UUID) error {
		return s.SetTeamsPresence(id, canon(body.Availability), canon(body.Activity))
	})
}

// ctlChange is a control route that changes the presence of the user in
// its path: it decodes body, calls change, and answers the presence it
// leaves — 404 when there is no such user, 400 when change refused.
func (s *Sim) ctlChange(w http.ResponseWriter, r *http.Request, body any, change func(id uuid.UUID) error) {
	id, ok := ctlUserID(w, r)
	if !ok || !decode(w, r, body) {
		return
	}
	if err := change(id); err != nil {
		status := http.StatusBadRequest
		s.mu.RLock()
		if s.users[id] == nil {
			status = http.StatusNotFound
		}
		s.mu.RUnlock()
		ctlFail(w, status, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, s.currentPresence(id))
}

func (s *Sim) ctlGetPresence(w http.ResponseWriter, r *http.Request) {
	id, ok := ctlUserID(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	known := s.users[id] != nil
	s.mu.RUnlock()
	if !known {
		ctlFail(w, http.StatusNotFound, "no user %s", id)
		return
	}
	writeJSON(w, http.StatusOK, s.currentPresence(id))
}

// ctlOutOfOffice sets the user's automatic replies, as Outlook would:
// {"on":true,"message":"Back on Monday"}.
func (s *Sim) ctlOutOfOffice(w http.ResponseWriter, r *http.Request) {
	var body struct {
		On      bool   `json:"on"`
		Message string `json:"message"`
	}
	s.ctlChange(w, r, &body, func(id uuid.UUID) error { return s.SetOutOfOffice(id, body.On, body.Message) })
}

// ctlWorkLocation sets one layer of the user's work location, as their
// devices or calendar would: {"source":"manual","workLocationType":"remote",
// "placeId":"…"}; source defaults to manual, and workLocationType
// unspecified clears the layer.
func (s *Sim) ctlWorkLocation(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Source           string `json:"source"`
		WorkLocationType string `json:"workLocationType"`
		PlaceID          string `json:"placeId"`
	}
	s.ctlChange(w, r, &body, func(id uuid.UUID) error {
		return s.SetWorkLocation(id, body.Source, body.WorkLocationType, body.PlaceID)
	})
}

// SetThrottleLimit changes one of Graph's limits (global, presence,
// subscriptionWrite, subscription, directory), e.g. to make 429s easy to
// reach in a test.
func (s *Sim) SetThrottleLimit(class string, l ThrottleLimit) error {
	return s.throttle.setLimit(class, l)
}

// AddThrottleFault starts a 429 storm and returns it with its id.
func (s *Sim) AddThrottleFault(f ThrottleFault) ThrottleFault { return s.throttle.addStorm(f) }

// RemoveThrottleFault ends a storm.
func (s *Sim) RemoveThrottleFault(id string) bool { return s.throttle.removeStorm(id) }

// Throttled counts the requests refused so far, by class.
func (s *Sim) Throttled() map[string]int64 { return s.throttle.throttled() }

func (s *Sim) ctlThrottle(w http.ResponseWriter, r *http.Request) {
	s.throttle.mu.Lock()
	limits := map[string]map[string]any{}
	for c, l := range s.throttle.limits {
		limits[classNames[c]] = map[string]any{"requests": l.Requests, "windowSeconds": l.Window.Seconds()}
	}
	s.throttle.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"limits": limits, "storms": s.throttle.listStorms(), "throttled": s.throttle.throttled(),
	})
}

func (s *Sim) ctlSetLimit(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Requests      int     `json:"requests"`
		WindowSeconds float64 `json:"windowSeconds"`
	}
	if !decode(w, r, &body) {
		return
	}
	l := ThrottleLimit{Requests: body.Requests, Window: time.Duration(body.WindowSeconds * float64(time.Second))}
	if err := s.throttle.setLimit(chi.URLParam(r, "class"), l); err != nil {
		ctlFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) ctlAddStorm(w http.ResponseWriter, r *http.Request) {
	var f ThrottleFault
	if !decode(w, r, &f) {
		return
	}
	switch f.Status {
	case 0, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		ctlFail(w, http.StatusBadRequest, "status must be 429, 503 or 504")
		return
	}
	if f.Class != "" {
		known := false
		for _, n := range classNames {
			known = known || n == f.Class
		}
		if !known {
			ctlFail(w, http.StatusBadRequest, "class must be one of global, presence, subscriptionWrite, subscription, directory")
			return
		}
	}
	if f.RetryAfter < 0 || f.DelayMS < 0 || f.DelayMS > 120_000 {
		ctlFail(w, http.StatusBadRequest, "retryAfterSeconds must not be negative and delayMs must be 0–120000")
		return
	}
	writeJSON(w, http.StatusCreated, s.throttle.addStorm(f))
}
