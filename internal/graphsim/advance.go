package graphsim

import (
	"errors"
	"net/http"
	"time"
)

// Letting time pass under running processes. A test in this process moves
// the Sim's clock (Options.Clock); a fault suite that runs graphsim and
// the product as their own processes cannot: moved forward, the clock
// would sign tokens that are not yet valid for processes on the host's
// clock, and Graph and the product would disagree about every absolute
// time they exchange from then on — a subscription the product asks to
// expire in 55 minutes would already have expired for Graph.
//
// Advance makes d pass the other way round: every time the Sim holds
// that something is due at, or counts from, moves d into the past, and
// the work that has come due runs at once, so the Sim behaves as it would
// d later while its clock stays the host's. A product that ages its own
// stored times by the same d (internal/store/storetest.AgeDatabase)
// then agrees with it about every time.
//
// What ages: subscriptions (expiry, creation, last authorization, last
// reauthorizationRequired), notifications waiting for a retry, a delay or
// a slow endpoint's penalty, the slow-endpoint window, the journal's
// times, and presence that fades (app sessions, preferred presence,
// status messages). What does not: tokens, codes and refresh tokens
// already issued (their lifetimes are inside signed tokens, or far longer
// than a scenario), throttling windows, sequence numbers (they only need
// to increase), and a POST in flight (its first attempt's time is on the
// request).

// MaxAdvance bounds one Advance: a day is more than any scenario needs,
// and a typo of hours for minutes should be refused, not obeyed.
const MaxAdvance = 24 * time.Hour

// Advance lets d pass (see above) and returns how much has passed in all.
func (s *Sim) Advance(d time.Duration) (time.Duration, error) {
	if d <= 0 || d > MaxAdvance {
		return 0, errors.New("advance must be positive and at most 24h")
	}
	s.presence.age(d)
	s.notify.subs.age(d)
	s.notify.age(d)
	s.advancedMu.Lock()
	s.advanced += d
	total := s.advanced
	s.advancedMu.Unlock()
	s.TickPresence()
	s.TickNotifications()
	return total, nil
}

// Advanced is how much time Advance has let pass in all.
func (s *Sim) Advanced() time.Duration {
	s.advancedMu.Lock()
	defer s.advancedMu.Unlock()
	return s.advanced
}

func earlier(t *time.Time, d time.Duration) {
	if !t.IsZero() {
		*t = t.Add(-d)
	}
}

func (b *presenceBook) age(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.users {
		for _, sess := range u.sessions {
			earlier(&sess.refreshed, d)
			earlier(&sess.expires, d)
		}
		if u.preferred != nil {
			earlier(&u.preferred.expires, d)
		}
		earlier(&u.statusExp, d)
	}
}

func (st *subStore) age(d time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, sub := range st.byID {
		earlier(&sub.created, d)
		earlier(&sub.expiration, d)
		earlier(&sub.authorized, d)
		earlier(&sub.lastReauth, d)
		sub.refreshLocked()
	}
}

func (n *notifier) age(d time.Duration) {
	n.inMu.Lock()
	for i := range n.inbox {
		earlier(&n.inbox[i].at, d)
	}
	n.inMu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ep := range n.endpoints {
		for _, b := range append(append([]*deliveryBatch{}, ep.ready...), ep.retries...) {
			earlier(&b.first, d)
			earlier(&b.due, d)
		}
		for i := range ep.held {
			earlier(&ep.held[i].due, d)
		}
		if ep.overtake != nil {
			earlier(&ep.overtake.due, d)
		}
		earlier(&ep.windowStart, d)
		earlier(&ep.modeUntil, d)
	}
	for i := range n.journal.entries {
		e := &n.journal.entries[i]
		earlier(&e.MadeAt, d)
		// Replaced, not changed in place: the items of one POST share
		// their time.
		if e.AckedAt != nil {
			at := e.AckedAt.Add(-d)
			e.AckedAt = &at
		}
	}
}

func (s *Sim) clockControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"POST", "/clock", `{"advance": "70m"}`,
			"let time pass at once (at most 24h): what graphsim holds ages by it — subscriptions expire, lifecycle notifications and retries " +
				"come due and run now — while its clock stays the host's, so the tokens it signs stay valid; answers how much has passed in all",
			s.ctlAdvance},
		{"GET", "/clock", "", "how much time POST /_sim/clock has let pass, and graphsim's clock",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.clockState()) }},
	}
}

// ClockState is what GET /_sim/clock answers.
type ClockState struct {
	Now      time.Time `json:"now"`
	Advanced string    `json:"advanced"` // a Go duration: "1h10m0s"
}

func (s *Sim) clockState() ClockState {
	return ClockState{Now: s.clock(), Advanced: s.Advanced().String()}
}

func (s *Sim) ctlAdvance(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Advance string `json:"advance"`
	}
	if !decode(w, r, &body) {
		return
	}
	d, err := time.ParseDuration(body.Advance)
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "advance: a duration such as \"70m\" or \"2h\": %v", err)
		return
	}
	if _, err := s.Advance(d); err != nil {
		ctlFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, s.clockState())
}
