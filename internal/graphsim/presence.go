package graphsim

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Presence as Teams computes it (docs/graph.md#presence and #setting-presence): each user has presence
// sessions — their own Teams clients and apps that called setPresence, one
// per app id — plus an optional user-preferred presence. The aggregated
// presence is what Graph reads and subscriptions report: the preferred
// presence while any session exists, else the strongest session
// (DoNotDisturb > Busy > Available > Away), else Offline. Beside those two
// strings the resource carries the status message, the out-of-office
// settings and the work location (worklocation.go). A change of any
// property of the resource, as its owner sees it, is a new version: it gets
// a new, lexicographically increasing sequenceNumber and is handed to the
// notifier (docs/graph.md#presence-change-notifications); the same resource
// again is no change and notifies nothing.

// Presence is Graph's presence resource.
type Presence struct {
	ID             uuid.UUID      `json:"id"`
	Availability   string         `json:"availability"`
	Activity       string         `json:"activity"`
	StatusMessage  *StatusMessage `json:"statusMessage"`
	OutOfOffice    OutOfOffice    `json:"outOfOfficeSettings"`
	WorkLocation   WorkLocation   `json:"workLocation"`
	SequenceNumber string         `json:"sequenceNumber,omitempty"`
}

// StatusMessage is presenceStatusMessage.
type StatusMessage struct {
	Message           ItemBody          `json:"message"`
	ExpiryDateTime    *DateTimeTimeZone `json:"expiryDateTime,omitempty"`
	PublishedDateTime *time.Time        `json:"publishedDateTime,omitempty"`
}

// ItemBody is Graph's itemBody.
type ItemBody struct {
	Content     string `json:"content"`
	ContentType string `json:"contentType"`
}

// DateTimeTimeZone is Graph's dateTimeTimeZone.
type DateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// OutOfOffice is outOfOfficeSettings.
type OutOfOffice struct {
	Message       *string `json:"message"`
	IsOutOfOffice bool    `json:"isOutOfOffice"`
}

// PresenceChange is one change of a user's aggregated presence.
type PresenceChange struct {
	TenantID uuid.UUID
	Presence Presence
	At       time.Time
}

// TeamsSession is the session id of the user's own Teams clients (set
// through the control API, as if the person joined a call).
const TeamsSession = "teams"

// Session timeouts of setPresence sessions (docs/graph.md#setting-presence).
const (
	sessionIdle          = 5 * time.Minute
	minSessionExpiration = 5 * time.Minute
	maxSessionExpiration = 4 * time.Hour
)

type presenceSession struct {
	availability, activity string
	refreshed              time.Time
	expires                time.Time // zero: never (Teams clients)
}

type preferredPresence struct {
	availability, activity string
	expires                time.Time
}

type userPresence struct {
	tenant    uuid.UUID
	sessions  map[string]*presenceSession
	preferred *preferredPresence
	status    *StatusMessage
	statusExp time.Time
	oof       bool
	oofMsg    *string
	locations map[string]workLocationLayer // by source: manual, automatic, scheduled
	current   Presence                     // last aggregate handed out
	// readAt is when getPresencesByUserId last answered this user
	// (Sim.PresenceReadAt). Kept here, not in a map of its own: a load run
	// reads a million users in bulk, and a map of them cost graphsim
	// ~300 MiB more (ac40afe).
	readAt time.Time
}

type presenceBook struct {
	mu    sync.Mutex
	users map[uuid.UUID]*userPresence
	seq   uint64
	// timed holds users whose aggregate changes with time alone (idle
	// sessions, expirations), re-evaluated by tick.
	timed map[uuid.UUID]struct{}
}

func newPresenceBook() *presenceBook {
	return &presenceBook{users: map[uuid.UUID]*userPresence{}, timed: map[uuid.UUID]struct{}{}}
}

var availabilityRank = map[string]int{
	"donotdisturb": 5, "busy": 4, "busyidle": 4, "available": 3, "availableidle": 3,
	"away": 2, "berightback": 2, "offline": 1,
}

// aggregate computes the presence Graph shows at now.
func (u *userPresence) aggregate(id uuid.UUID, now time.Time) Presence {
	p := Presence{ID: id, Availability: "Offline", Activity: "Offline",
		OutOfOffice: OutOfOffice{IsOutOfOffice: u.oof, Message: u.oofMsg}}
	var top *presenceSession
	topAvail, topAct := "", ""
	for _, sess := range u.sessions {
		a, act := sess.availability, sess.activity
		// An Available app session fades when not refreshed (docs/graph.md#setting-presence).
		if !sess.expires.IsZero() && strings.EqualFold(a, "Available") {
			switch idle := now.Sub(sess.refreshed); {
			case idle >= 2*sessionIdle:
				a, act = "Away", "Away"
			case idle >= sessionIdle:
				a, act = "Available", "AvailableInactive"
			}
		}
		if top == nil || availabilityRank[strings.ToLower(a)] > availabilityRank[strings.ToLower(topAvail)] {
			top, topAvail, topAct = sess, a, act
		}
	}
	if top != nil {
		p.Availability, p.Activity = topAvail, topAct
		if pref := u.preferred; pref != nil {
			// The preferred presence wins; a session of the same
			// availability keeps its more specific activity (Busy and in a
			// call shows InACall).
			if !strings.EqualFold(pref.availability, topAvail) || strings.EqualFold(pref.availability, "Offline") {
				p.Availability, p.Activity = pref.availability, pref.activity
			}
		}
	}
	if u.oof && strings.EqualFold(p.Availability, "Available") {
		p.Activity = "OutOfOffice"
	}
	if u.status != nil {
		sm := *u.status
		p.StatusMessage = &sm
	}
	p.WorkLocation = u.workLocation()
	return p
}

// expire drops lapsed sessions, preferences and status messages; it
// reports whether any time-based transition is still pending.
func (u *userPresence) expire(now time.Time) bool {
	pending := false
	for k, sess := range u.sessions {
		if sess.expires.IsZero() {
			continue
		}
		if !now.Before(sess.expires) {
			delete(u.sessions, k)
			continue
		}
		pending = true
	}
	if u.preferred != nil {
		if !now.Before(u.preferred.expires) {
			u.preferred = nil
		} else {
			pending = true
		}
	}
	if u.status != nil && !u.statusExp.IsZero() {
		if !now.Before(u.statusExp) {
			u.status = nil
		} else {
			pending = true
		}
	}
	return pending
}

// update applies fn to a user's presence state at now and publishes the
// new aggregate when it changed. fn reports an error to refuse the change.
func (s *Sim) updatePresence(tenant, id uuid.UUID, now time.Time, fn func(u *userPresence) error) error {
	b := s.presence
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users[id]
	if u == nil {
		u = &userPresence{tenant: tenant, sessions: map[string]*presenceSession{}}
		u.current = u.aggregate(id, now)
		u.current.SequenceNumber = sequenceNumber(0, time.Unix(0, 0))
		b.users[id] = u
	}
	if err := fn(u); err != nil {
		return err
	}
	s.settleLocked(id, u, now)
	return nil
}

// settleLocked recomputes a user's aggregate and publishes a change.
func (s *Sim) settleLocked(id uuid.UUID, u *userPresence, now time.Time) {
	b := s.presence
	if u.expire(now) {
		b.timed[id] = struct{}{}
	} else {
		delete(b.timed, id)
	}
	// Available app sessions keep changing with idle time.
	for _, sess := range u.sessions {
		if !sess.expires.IsZero() && strings.EqualFold(sess.availability, "Available") && now.Sub(sess.refreshed) < 2*sessionIdle {
			b.timed[id] = struct{}{}
		}
	}
	next := u.aggregate(id, now)
	if samePresence(next, u.current) {
		return
	}
	b.seq++
	next.SequenceNumber = sequenceNumber(b.seq, now)
	u.current = next
	s.notify.presenceChanged(PresenceChange{TenantID: u.tenant, Presence: next, At: now})
}

// TickPresence applies time-based transitions (idle Available sessions,
// expired sessions, preferences and status messages) as of the Sim's
// clock. Start runs it every second; tests with a fake clock call it.
func (s *Sim) TickPresence() {
	now := s.clock()
	b := s.presence
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.timed {
		s.settleLocked(id, b.users[id], now)
	}
}

// currentPresence is the user's aggregated presence now.
func (s *Sim) currentPresence(id uuid.UUID) Presence {
	b := s.presence
	b.mu.Lock()
	defer b.mu.Unlock()
	if u := b.users[id]; u != nil {
		return u.current
	}
	return unseenPresence(id)
}

// unseenPresence is the presence of a user with no change since the seed.
func unseenPresence(id uuid.UUID) Presence {
	return Presence{ID: id, Availability: "Offline", Activity: "Offline", SequenceNumber: sequenceNumber(0, time.Unix(0, 0))}
}

// readPresences is currentPresence for each of ids, noting now as when
// each was read in bulk: in the user's entry, or in s.readAt for a user
// with none yet (no change since the seed).
func (s *Sim) readPresences(ids []uuid.UUID, now time.Time) []Presence {
	b := s.presence
	out := make([]Presence, len(ids))
	var unseen []uuid.UUID
	b.mu.Lock()
	for i, id := range ids {
		u := b.users[id]
		if u == nil {
			out[i] = unseenPresence(id)
			unseen = append(unseen, id)
			continue
		}
		out[i] = u.current
		u.readAt = now
	}
	b.mu.Unlock()
	if len(unseen) > 0 {
		s.readMu.Lock()
		if s.readAt == nil {
			s.readAt = map[uuid.UUID]int64{}
		}
		for _, id := range unseen {
			s.readAt[id] = now.UnixNano()
		}
		s.readMu.Unlock()
	}
	return out
}

// samePresence reports whether a and b are the same version of the
// resource: every property equal, as the owner sees it (the status
// message's expiry and publish time included), the sequenceNumber aside.
func samePresence(a, b Presence) bool {
	a.SequenceNumber, b.SequenceNumber = "", ""
	return reflect.DeepEqual(a, b)
}

// sequenceNumber is lexicographically sortable: a fixed-width hex time and
// counter, like the opaque stamps Graph sends.
func sequenceNumber(n uint64, now time.Time) string {
	return fmt.Sprintf("%012X%010X", now.UnixMilli(), n)
}

// SetTeamsPresence sets the user's own Teams client state, as if they
// joined a call (Busy/InACall) or signed out (Offline: the session ends).
func (s *Sim) SetTeamsPresence(userID uuid.UUID, availability, activity string) error {
	s.mu.RLock()
	usr := s.users[userID]
	s.mu.RUnlock()
	if usr == nil {
		return fmt.Errorf("no user %s", userID)
	}
	if _, ok := availabilityRank[strings.ToLower(availability)]; !ok {
		return fmt.Errorf("unknown availability %q", availability)
	}
	if activity == "" {
		return fmt.Errorf("activity is required")
	}
	now := s.clock()
	return s.updatePresence(usr.TenantID, userID, now, func(u *userPresence) error {
		if strings.EqualFold(availability, "Offline") {
			delete(u.sessions, TeamsSession)
			return nil
		}
		u.sessions[TeamsSession] = &presenceSession{availability: availability, activity: activity, refreshed: now}
		return nil
	})
}

// SetOutOfOffice sets the mailbox's automatic replies state.
func (s *Sim) SetOutOfOffice(userID uuid.UUID, on bool, message string) error {
	s.mu.RLock()
	usr := s.users[userID]
	s.mu.RUnlock()
	if usr == nil {
		return fmt.Errorf("no user %s", userID)
	}
	return s.updatePresence(usr.TenantID, userID, s.clock(), func(u *userPresence) error {
		u.oof = on
		u.oofMsg = nil
		if on && message != "" {
			u.oofMsg = &message
		}
		return nil
	})
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseISODuration reads the ISO-8601 durations Graph accepts (PT5M,
// PT1H30M, P1D).
func parseISODuration(v string) (time.Duration, bool) {
	m := isoDuration.FindStringSubmatch(strings.ToUpper(v))
	if m == nil || v == "P" || strings.HasSuffix(strings.ToUpper(v), "T") {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, err := strconv.Atoi(m[i+1])
			if err != nil {
				return 0, false
			}
			d += time.Duration(n) * unit
		}
	}
	if m[4] != "" {
		f, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return 0, false
		}
		d += time.Duration(f * float64(time.Second))
	}
	return d, true
}
