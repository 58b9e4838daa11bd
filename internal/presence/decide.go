package presence

import "time"

// Outcome is what became of an observed change.
type Outcome string

// Outcomes.
const (
	Applied   Outcome = "applied"   // stored, with an event
	Stale     Outcome = "stale"     // older than what is stored (Graph reordered it)
	Unchanged Outcome = "unchanged" // the same state again (a retry, or a repair that agrees)
)

// Publication is what becomes of an applied change's event.
type Publication int

// Publications.
const (
	Publish  Publication = iota // at once, on every channel
	Hold                        // at the end of the debounce window, unless a later change ends the hold
	Suppress                    // never: kept in the history only, with a reason
)

// Reasons an event is never published.
const (
	SuppressedEcho       = "echo"       // a state we set in Teams for the platform came back
	SuppressedDebounce   = "debounce"   // talking resumed within the window: the platform saw one talking period
	SuppressedSuperseded = "superseded" // a newer change within the window replaced it before it was published
)

// Current is a user's presence as stored, as a change is judged against it.
type Current struct {
	Exists                 bool
	Availability, Activity string
	Rich                   Rich
	GraphSequence          string // Graph's sequenceNumber, ordered as strings; "" unknown
	State                  State
	Held                   bool // an event that left talking waits for its window to end
}

// Change is an observed presence, mapped.
type Change struct {
	Availability, Activity string
	Rich                   Rich
	GraphSequence          string
	State                  State
	Debounce               time.Duration // the tenant's window for talking flaps
	// Echo: the availability and activity are a pair we set in Teams for
	// the platform. It counts only when they change: a change of the rich
	// presence alone is not ours.
	Echo bool
	// Force: a sync asked for the user's current state (the platform
	// suspects it lost some), so the same state again is applied as a
	// change — a new event — rather than found unchanged.
	Force bool
}

// Verdict is the decision on one change.
type Verdict struct {
	Outcome Outcome
	// NewSequence: an unchanged change with a newer Graph sequenceNumber
	// (stored, so a later reordering is recognised as stale).
	NewSequence bool
	Publication Publication
	Suppressed  string // the reason, when Publication is Suppress
	// HoldFor is a new hold's window; TakeOverHold means the change
	// takes the held event's place and deadline (the latest state wins
	// within the window; the deadline does not move).
	HoldFor      time.Duration
	TakeOverHold bool
	// EndHeld says what becomes of the event held before this change
	// ("" when none was held): suppressed for this reason.
	EndHeld string
}

// Decide is the one rule for an observed change: stale by Graph's
// sequenceNumber, unchanged (the same availability, activity and rich
// presence: Rich.Same, unless forced), or applied — and then published at
// once, held (leaving talking, for the debounce window), or suppressed (an
// echo of our own, or talking resumed within the window). Both channels,
// webhooks and the event stream, carry exactly the published events.
//
// A forced change (a sync's) that is the same state again goes through
// the same rules as any change, not around them: the debounce decides
// what the platform sees, and when, for a sync too. Not held, it is
// published at once. During a hold the platform still has the talking
// state the held change left, and a flap may yet undo that change: the
// forced one takes the held one's place and deadline, so the platform
// gets the current state once, when the window ends (or nothing, if
// talking resumes, which is then still what it holds). Publishing it at
// once would end the debounce early and show a flap the window exists to
// hide. A stale one stays stale: it is not the current state.
func Decide(cur Current, c Change) Verdict {
	if cur.Exists && Older(c.GraphSequence, cur.GraphSequence) {
		return Verdict{Outcome: Stale}
	}
	samePair := cur.Exists && cur.Availability == c.Availability && cur.Activity == c.Activity
	if samePair && cur.Rich.Same(c.Rich) && !c.Force {
		return Verdict{Outcome: Unchanged, NewSequence: c.GraphSequence > cur.GraphSequence}
	}
	v := Verdict{Outcome: Applied}
	talking := c.State == Talking
	echo := c.Echo && !samePair
	switch {
	case echo:
		v.Publication, v.Suppressed = Suppress, SuppressedEcho
	case cur.Held && talking:
		// Talking again within the window after a change that left it:
		// the platform never saw talking end, and sees nothing now.
		v.Publication, v.Suppressed = Suppress, SuppressedDebounce
	case cur.Held:
		v.Publication, v.TakeOverHold = Hold, true
	case c.Debounce > 0 && cur.Exists && cur.State == Talking && !talking:
		v.Publication, v.HoldFor = Hold, c.Debounce
	default:
		v.Publication = Publish
	}
	if cur.Held {
		v.EndHeld = SuppressedSuperseded
		if talking && !echo {
			v.EndHeld = SuppressedDebounce
		}
	}
	return v
}

// Older reports whether Graph's sequenceNumber seq is older than than:
// Graph orders them as strings. With either unknown (""), it is not.
func Older(seq, than string) bool {
	return seq != "" && than != "" && seq < than
}
