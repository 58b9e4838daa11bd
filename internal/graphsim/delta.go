package graphsim

import (
	"hash/maphash"
	"time"

	"github.com/google/uuid"
)

// Directory change tracking behind /users/delta (docs/graph.md#delta-queries
// "Users delta"). Nothing else in the package has to report changes: on
// each delta request the tracker compares every user with what it saw last
// (a hash of the properties delta returns, and whether the account exists,
// is soft-deleted or gone) and logs what differs. So users added by Apply,
// disabled through the control API or renamed here all show up.

// deltaTokenLifetime: directory delta links live 7 days (Microsoft 365
// developer blog, "Duration of change tracking tokens for identity and
// education resources", 2020-07-03; docs/graph.md#delta-queries).
const deltaTokenLifetime = 7 * 24 * time.Hour

type userState uint8

const (
	statePresent userState = iota
	stateSoftDeleted
	stateGone
)

type trackedUser struct {
	hash  uint64
	seq   uint64
	state userState
}

type change struct {
	seq uint64
	at  time.Time
	id  uuid.UUID
}

// changeTracker is one tenant's change log. seq numbers every change;
// a delta token holds the seq it has seen.
type changeTracker struct {
	seq    uint64
	known  map[uuid.UUID]trackedUser
	log    []change // ascending seq
	pruned uint64   // changes up to this seq were dropped from the log
}

var userHashSeed = maphash.MakeSeed()

func hashUser(u *User) uint64 {
	var h maphash.Hash
	h.SetSeed(userHashSeed)
	h.WriteString(u.UPN)
	h.WriteByte(0)
	h.WriteString(u.Mail)
	h.WriteByte(0)
	h.WriteString(u.DisplayName)
	if u.Enabled {
		h.WriteByte(1)
	}
	return h.Sum64()
}

// reconcileLocked brings t's change log up to date and returns the current
// seq. s.mu is held for writing.
func (t *Tenant) reconcileLocked(now time.Time) uint64 {
	if t.track == nil {
		// The first delta request of a tenant is its baseline: everything
		// present now is seq 0, and any token includes it.
		t.track = &changeTracker{known: make(map[uuid.UUID]trackedUser, len(t.users))}
		for id, u := range t.users {
			t.track.known[id] = trackedUser{hash: hashUser(u)}
		}
		for id := range t.deleted {
			t.track.known[id] = trackedUser{state: stateSoftDeleted}
		}
		return 0
	}
	tr := t.track
	record := func(id uuid.UUID, st trackedUser) {
		tr.seq++
		st.seq = tr.seq
		tr.known[id] = st
		tr.log = append(tr.log, change{seq: tr.seq, at: now, id: id})
	}
	for id, u := range t.users {
		h := hashUser(u)
		if k, ok := tr.known[id]; !ok || k.state != statePresent || k.hash != h {
			record(id, trackedUser{hash: h})
		}
	}
	for id := range t.deleted {
		if k, ok := tr.known[id]; !ok || k.state != stateSoftDeleted {
			record(id, trackedUser{state: stateSoftDeleted})
		}
	}
	for id, k := range tr.known {
		if k.state != stateGone && t.users[id] == nil && t.deleted[id] == nil {
			record(id, trackedUser{state: stateGone})
		}
	}
	// Changes older than any valid token can be forgotten.
	cut := 0
	for cut < len(tr.log) && now.Sub(tr.log[cut].at) > deltaTokenLifetime {
		cut++
	}
	if cut > 0 {
		tr.pruned = tr.log[cut-1].seq
		tr.log = append([]change(nil), tr.log[cut:]...)
		for id, k := range tr.known {
			if k.state == stateGone && k.seq <= tr.pruned {
				delete(tr.known, id)
			}
		}
	}
	return tr.seq
}

// changedSince lists the users that changed after seq since up to seq
// upto, each once, in the order of their first change.
func (tr *changeTracker) changedSince(since, upto uint64) []uuid.UUID {
	var out []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, c := range tr.log {
		if c.seq <= since || c.seq > upto || seen[c.id] {
			continue
		}
		seen[c.id] = true
		out = append(out, c.id)
	}
	return out
}
