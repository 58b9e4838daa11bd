package presence

import (
	"testing"
	"time"
)

// TestDecideIsOneRuleForBothChannels names each case of the rule: stale and
// unchanged changes make no event; an echo is suppressed; leaving talking
// is held; within the window talking again suppresses both, another change
// takes the held one's place and deadline; a change of the rich presence
// alone is a change like any other; a sync's same state again is a change
// too, held like one.
func TestDecideIsOneRuleForBothChannels(t *testing.T) {
	const window = 3 * time.Second
	inCall := Current{Exists: true, Availability: "Busy", Activity: "InACall", GraphSequence: "05", State: Talking}
	heldAvailable := Current{Exists: true, Availability: "Available", Activity: "Available", GraphSequence: "06", State: Available, Held: true}
	available := Current{Exists: true, Availability: "Available", Activity: "Available", GraphSequence: "08", State: Available}
	withRich := func(c Current, r Rich) Current { c.Rich = r; return c }
	message := func(text string) Rich { return Rich{StatusMessage: &StatusMessage{Message: text}} }
	change := func(avail, act, seq string, st State) Change {
		return Change{Availability: avail, Activity: act, GraphSequence: seq, State: st, Debounce: window}
	}
	for _, c := range []struct {
		name string
		cur  Current
		ch   Change
		want Verdict
	}{
		{"a first change is published", Current{}, change("Busy", "InACall", "01", Talking),
			Verdict{Outcome: Applied, Publication: Publish}},
		{"an older sequenceNumber is stale", inCall, change("Available", "Available", "04", Available),
			Verdict{Outcome: Stale}},
		{"the same state again is unchanged, its newer sequence kept", inCall, change("Busy", "InACall", "07", Talking),
			Verdict{Outcome: Unchanged, NewSequence: true}},
		{"leaving talking is held for the window", inCall, change("Available", "Available", "06", Available),
			Verdict{Outcome: Applied, Publication: Hold, HoldFor: window}},
		{"without a window leaving talking is published", inCall, Change{Availability: "Available", Activity: "Available", State: Available},
			Verdict{Outcome: Applied, Publication: Publish}},
		{"talking again within the window suppresses both", heldAvailable, change("Busy", "InAMeeting", "07", Talking),
			Verdict{Outcome: Applied, Publication: Suppress, Suppressed: SuppressedDebounce, EndHeld: SuppressedDebounce}},
		{"another change within the window takes the held one's place", heldAvailable, change("Away", "Away", "07", Away),
			Verdict{Outcome: Applied, Publication: Hold, TakeOverHold: true, EndHeld: SuppressedSuperseded}},
		{"an echo of ours is suppressed", Current{Exists: true, Availability: "Available", Activity: "Available", State: Available},
			Change{Availability: "DoNotDisturb", Activity: "Presenting", State: DoNotDisturb, Echo: true},
			Verdict{Outcome: Applied, Publication: Suppress, Suppressed: SuppressedEcho}},
		{"an echo during a hold supersedes the held change", heldAvailable,
			Change{Availability: "Busy", Activity: "InACall", State: Talking, Echo: true, Debounce: window},
			Verdict{Outcome: Applied, Publication: Suppress, Suppressed: SuppressedEcho, EndHeld: SuppressedSuperseded}},
		{"a new status message alone is published", withRich(available, message("Lunch")),
			Change{Availability: "Available", Activity: "Available", Rich: message("In a workshop"), State: Available, Debounce: window},
			Verdict{Outcome: Applied, Publication: Publish}},
		{"the same status message again is unchanged", withRich(available, message("Lunch")),
			Change{Availability: "Available", Activity: "Available", Rich: message("Lunch"), State: Available, GraphSequence: "09"},
			Verdict{Outcome: Unchanged, NewSequence: true}},
		{"going out of office alone is published", available,
			Change{Availability: "Available", Activity: "Available", Rich: Rich{OutOfOffice: &OutOfOffice{IsOutOfOffice: true}}, State: Available},
			Verdict{Outcome: Applied, Publication: Publish}},
		{"in the office, known for the first time, is unchanged", available,
			Change{Availability: "Available", Activity: "Available", Rich: Rich{OutOfOffice: &OutOfOffice{}}, State: Available},
			Verdict{Outcome: Unchanged}},
		{"a rich change while talking is published at once", withRich(inCall, message("Lunch")),
			Change{Availability: "Busy", Activity: "InACall", State: Talking, Debounce: window},
			Verdict{Outcome: Applied, Publication: Publish}},
		{"a rich change during a hold takes the held one's place", heldAvailable,
			Change{Availability: "Available", Activity: "Available", Rich: message("Lunch"), State: Available, Debounce: window},
			Verdict{Outcome: Applied, Publication: Hold, TakeOverHold: true, EndHeld: SuppressedSuperseded}},
		{"a rich change to a pair we set is not our echo", withRich(available, message("Lunch")),
			Change{Availability: "Available", Activity: "Available", State: Available, Echo: true},
			Verdict{Outcome: Applied, Publication: Publish}},
		{"a sync's same state again is published", available,
			Change{Availability: "Available", Activity: "Available", GraphSequence: "08", State: Available, Debounce: window, Force: true},
			Verdict{Outcome: Applied, Publication: Publish}},
		{"a sync's same state again during a hold takes the held one's place", heldAvailable,
			Change{Availability: "Available", Activity: "Available", GraphSequence: "06", State: Available, Debounce: window, Force: true},
			Verdict{Outcome: Applied, Publication: Hold, TakeOverHold: true, EndHeld: SuppressedSuperseded}},
		{"a sync's older sequenceNumber is still stale", inCall, Change{Availability: "Busy", Activity: "InACall", GraphSequence: "04",
			State: Talking, Force: true},
			Verdict{Outcome: Stale}},
		{"a sync's same pair we set is not our echo", available,
			Change{Availability: "Available", Activity: "Available", State: Available, Echo: true, Force: true},
			Verdict{Outcome: Applied, Publication: Publish}},
	} {
		if got := Decide(c.cur, c.ch); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}
