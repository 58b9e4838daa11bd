package graphsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// A churn scenario flips users' Teams presence at a steady rate, through
// SetTeamsPresence, as if people joined and left calls: load for the
// notification pipeline, in a demo or a benchmark.

// ChurnSpec describes a scenario: Rate changes per second spread over the
// first Users people (by UPN; admins excluded) of TenantID, or of every
// tenant when it is empty.
type ChurnSpec struct {
	TenantID string  `json:"tenantId,omitempty"`
	Users    int     `json:"users"`
	Rate     float64 `json:"rate"`
	// States, when given, are the (availability, activity) pairs to move
	// people between instead of churnStates, e.g. none of them talking, so
	// a product's debounce of a call's end holds nothing back and each
	// change is measured alone (at least two).
	States [][2]string `json:"states,omitempty"`
}

// ChurnStatus is a running scenario.
type ChurnStatus struct {
	ID string `json:"id"`
	ChurnSpec
	Changes int64     `json:"changes"`
	Started time.Time `json:"started"`
}

type churn struct {
	status  ChurnStatus
	users   []uuid.UUID
	changes atomic.Int64
	cancel  context.CancelFunc
}

// churnStates are the Teams states a churn moves people between.
var churnStates = [][2]string{
	{"Available", "Available"}, {"Busy", "InACall"}, {"Busy", "InAMeeting"}, {"DoNotDisturb", "Presenting"},
	{"Away", "Away"}, {"BeRightBack", "BeRightBack"}, {"Busy", "Busy"}, {"DoNotDisturb", "DoNotDisturb"},
}

// maxChurnRate keeps a typo from starving the Sim.
const maxChurnRate = 1_000_000

// StartChurn starts a scenario; it runs until StopChurn or until the
// Sim's Run ends.
func (s *Sim) StartChurn(spec ChurnSpec) (ChurnStatus, error) {
	if spec.Users < 1 || spec.Rate <= 0 || spec.Rate > maxChurnRate {
		return ChurnStatus{}, fmt.Errorf("users must be at least 1 and rate 0–%d changes per second", maxChurnRate)
	}
	if len(spec.States) == 1 {
		return ChurnStatus{}, errors.New("states must name at least two (availability, activity) pairs, or none")
	}
	for _, st := range spec.States {
		if _, ok := availabilityRank[strings.ToLower(st[0])]; !ok || st[1] == "" {
			return ChurnStatus{}, fmt.Errorf("state %q: unknown availability or no activity", st)
		}
	}
	users, err := s.churnUsers(spec)
	if err != nil {
		return ChurnStatus{}, err
	}
	n := s.notify
	n.mu.Lock()
	ctx, cancel := context.WithCancel(n.ctx)
	c := &churn{status: ChurnStatus{ID: uuid.NewString(), ChurnSpec: spec, Started: time.Now()}, users: users, cancel: cancel}
	c.status.Users = len(users)
	n.churns[c.status.ID] = c
	n.mu.Unlock()
	go c.run(ctx, s)
	return c.status, nil
}

func (s *Sim) churnUsers(spec ChurnSpec) ([]uuid.UUID, error) {
	var tenant uuid.UUID
	if spec.TenantID != "" {
		id, err := uuid.Parse(spec.TenantID)
		if err != nil {
			return nil, errors.New("tenantId must be a GUID")
		}
		tenant = id
	}
	s.mu.RLock()
	var all []*User
	for _, u := range s.users {
		if (tenant == uuid.Nil || u.TenantID == tenant) && !u.Admin && u.Enabled {
			all = append(all, u)
		}
	}
	s.mu.RUnlock()
	if tenant != uuid.Nil && len(all) == 0 {
		return nil, fmt.Errorf("tenant %s has no users to churn", tenant)
	}
	if len(all) == 0 {
		return nil, errors.New("there are no users to churn")
	}
	// Everyone asked for: no order to choose by. Sorting a million
	// people took graphsim 1.5 s of a core at every churn's start, on the
	// cores the load run measures the product on, which then caught up
	// with a burst (issue 16).
	if spec.Users >= len(all) {
		ids := make([]uuid.UUID, len(all))
		for i, u := range all {
			ids[i] = u.ID
		}
		return ids, nil
	}
	// Lower-cased once, not in every comparison: a million people sort
	// in a second rather than ten.
	type keyed struct {
		upn string
		id  uuid.UUID
	}
	keys := make([]keyed, len(all))
	for i, u := range all {
		keys[i] = keyed{strings.ToLower(u.UPN), u.ID}
	}
	slices.SortFunc(keys, func(a, b keyed) int { return strings.Compare(a.upn, b.upn) })
	ids := make([]uuid.UUID, 0, min(spec.Users, len(all)))
	for _, k := range keys[:min(spec.Users, len(all))] {
		ids = append(ids, k.id)
	}
	return ids, nil
}

// run flips presence every 10 ms by the number of changes due, never
// catching up more than a second's worth after a stall.
func (c *churn) run(ctx context.Context, s *Sim) {
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed))
	states := churnStates
	if len(c.status.States) > 0 {
		states = c.status.States
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start, done := time.Now(), 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		want := c.status.Rate * time.Since(start).Seconds()
		if want-done > c.status.Rate {
			done = want - c.status.Rate
		}
		for ; done+1 <= want; done++ {
			id := c.users[rnd.IntN(len(c.users))]
			st := churnNext(s.currentPresence(id), states, rnd)
			if s.SetTeamsPresence(id, st[0], st[1]) == nil {
				c.changes.Add(1)
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// churnNext is the state a churn moves a person to from cur: any of
// states but the one they are in. A move to it changes nothing, so Graph
// notifies nothing, and a churn that started each person at its first
// state fell short of its rate wherever an earlier one had left people
// in the others (a load run's phase after two others asked 1,000 changes
// a second and Graph made 960; issue 16).
func churnNext(cur Presence, states [][2]string, rnd *rand.Rand) [2]string {
	at := slices.IndexFunc(states, func(st [2]string) bool {
		return strings.EqualFold(st[0], cur.Availability) && strings.EqualFold(st[1], cur.Activity)
	})
	if at < 0 {
		return states[rnd.IntN(len(states))]
	}
	return states[(at+1+rnd.IntN(len(states)-1))%len(states)]
}

// StopChurn stops a scenario; it reports whether it was running.
func (s *Sim) StopChurn(id string) bool {
	n := s.notify
	n.mu.Lock()
	c := n.churns[id]
	delete(n.churns, id)
	n.mu.Unlock()
	if c == nil {
		return false
	}
	c.cancel()
	return true
}

// Churns lists the running scenarios.
func (s *Sim) Churns() []ChurnStatus {
	n := s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]ChurnStatus, 0, len(n.churns))
	for _, c := range n.churns {
		st := c.status
		st.Changes = c.changes.Load()
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ChurnStatus) int { return a.Started.Compare(b.Started) })
	return out
}

func (n *notifier) stopChurns() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, c := range n.churns {
		c.cancel()
		delete(n.churns, id)
	}
}
