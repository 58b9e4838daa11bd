package graphsim

import (
	"net/http"
	"net/http/pprof"
)

// loadControlRoutes: what a load run needs at a million users without
// moving the whole directory over HTTP — how many users the live
// subscriptions cover, and many people's presence set at once.
func (s *Sim) loadControlRoutes() []ctlRoute {
	return []ctlRoute{
		{"GET", "/subscriptions/coverage", "", "how many live subscriptions there are, how many distinct users they cover, how many presences getPresencesByUserId answered, and how many subscriptions were renewed and lapsed",
			func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Coverage()) }},
		{"POST", "/presence/bulk", `{"tenantId": "", "users": 100, "availability": "Busy", "activity": "Busy"}`,
			"set what the Teams clients of the first users people (by UPN; admins excluded) of a tenant, or of every tenant, show; answers how many were set, how many changed and how many of those a subscription covers", s.ctlBulkPresence},
		// graphsim shares the load run's cores with the product: its own
		// CPU profile says what of a cold start's cost is the emulator's.
		{"GET", "/debug/pprof/profile", "", "a CPU profile of graphsim itself (?seconds=N, default 30), as net/http/pprof answers it",
			pprof.Profile},
	}
}

// Coverage is what the live subscriptions cover.
type Coverage struct {
	Subscriptions int `json:"subscriptions"`
	Users         int `json:"users"`
	// PresencesRead counts the presences getPresencesByUserId answered
	// since graphsim started (a user read twice counts twice).
	PresencesRead int64 `json:"presencesRead"`
	// Renewed counts renewals since graphsim started (PATCHes that moved
	// an expiration), Lapsed the subscriptions that reached their
	// expiration and were deleted.
	Renewed int64 `json:"renewed"`
	Lapsed  int64 `json:"lapsed"`
}

// Coverage counts the live subscriptions and the distinct users they
// cover (a map's length: cheap at a million users, where listing the
// subscriptions' resources is tens of megabytes).
func (s *Sim) Coverage() Coverage {
	st := s.notify.subs
	st.mu.RLock()
	defer st.mu.RUnlock()
	return Coverage{Subscriptions: len(st.byID), Users: len(st.byUser), PresencesRead: s.presencesRead.Load(),
		Renewed: st.renewed, Lapsed: st.lapsed}
}

// BulkPresence is a body of POST /_sim/presence/bulk.
type BulkPresence struct {
	TenantID     string `json:"tenantId,omitempty"`
	Users        int    `json:"users"`
	Availability string `json:"availability"`
	Activity     string `json:"activity"`
}

// BulkResult is how many people a bulk change set, how many of them
// Graph shows a new presence for (each notified as one change would be),
// and how many of those a subscription covers: the changes notified. The
// people are chosen as a churn chooses them, monitor accounts included,
// which nobody subscribes to: a load run waiting for every changed person
// to be notified waited forever once its bulk reached them (issue 16).
type BulkResult struct {
	Users   int `json:"users"`
	Changed int `json:"changed"`
	Covered int `json:"covered"`
}

// SetPresenceMany sets the Teams presence of the first b.Users people,
// chosen as a churn chooses them.
func (s *Sim) SetPresenceMany(b BulkPresence) (BulkResult, error) {
	users, err := s.churnUsers(ChurnSpec{TenantID: b.TenantID, Users: b.Users})
	if err != nil {
		return BulkResult{}, err
	}
	out := BulkResult{Users: len(users)}
	for _, id := range users {
		before := s.currentPresence(id).SequenceNumber
		if err := s.SetTeamsPresence(id, b.Availability, b.Activity); err != nil {
			return out, err
		}
		if s.currentPresence(id).SequenceNumber != before {
			out.Changed++
			if len(s.notify.subs.covering(id)) > 0 {
				out.Covered++
			}
		}
	}
	return out, nil
}

func (s *Sim) ctlBulkPresence(w http.ResponseWriter, r *http.Request) {
	var b BulkPresence
	if !decode(w, r, &b) {
		return
	}
	if b.Users < 1 {
		ctlFail(w, http.StatusBadRequest, "users must be at least 1")
		return
	}
	out, err := s.SetPresenceMany(b)
	if err != nil {
		ctlFail(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
