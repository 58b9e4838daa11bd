// Package presence turns Teams presence into what the telephony platform
// acts on: per-tenant mapping rules from (availability, activity) to a
// downstream state, the one rule that decides what becomes of an observed
// change (Decide: stale, unchanged, published, held by the debounce that
// absorbs call/meeting flaps, or suppressed), the event both channels
// carry (NewEvent), and the presence Graph lets us write back into Teams
// (the pairs and lifetimes in pairs.go).
package presence

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// State is a downstream state the telephony platform understands.
type State string

// Downstream states.
const (
	Available    State = "available"
	Talking      State = "talking"
	Busy         State = "busy"
	Away         State = "away"
	DoNotDisturb State = "dnd"
	Offline      State = "offline"
	Unknown      State = "unknown"
)

var states = map[State]bool{Available: true, Talking: true, Busy: true, Away: true, DoNotDisturb: true, Offline: true, Unknown: true}

// Rules are one tenant's mapping. The zero value is not useful: start from
// DefaultRules and change what the tenant asks for.
type Rules struct {
	// Which activities count as talking (each switchable): a user in a
	// call, a conference call, a meeting, or presenting.
	TalkingInCall       bool `json:"talkingInCall"`
	TalkingInConference bool `json:"talkingInConferenceCall"`
	TalkingInMeeting    bool `json:"talkingInMeeting"`
	TalkingPresenting   bool `json:"talkingPresenting"`
	// Idle states, mapped explicitly: Teams says AvailableIdle/BusyIdle
	// when the person has not touched the device for a while.
	AvailableIdle State `json:"availableIdle"`
	BusyIdle      State `json:"busyIdle"`
	// Debounce holds a talking user's state for this long after the
	// activity leaves talking, so InACall → Busy → InAMeeting flaps (a call
	// escalated to a meeting) reach the platform as one talking period.
	Debounce Duration `json:"debounce"`
	// Overrides map "Availability/Activity" (any case) to a state, ahead
	// of everything above.
	Overrides map[string]State `json:"overrides,omitempty"`
}

// DefaultRules are what a new tenant gets.
func DefaultRules() Rules {
	return Rules{TalkingInCall: true, TalkingInConference: true, TalkingInMeeting: true, TalkingPresenting: true,
		AvailableIdle: Away, BusyIdle: Busy, Debounce: Duration(3 * time.Second)}
}

// Validate checks the states named and the debounce.
func (r Rules) Validate() error {
	for name, s := range map[string]State{"availableIdle": r.AvailableIdle, "busyIdle": r.BusyIdle} {
		if !states[s] {
			return fmt.Errorf("%s: %q is not a state (available, talking, busy, away, dnd, offline, unknown)", name, s)
		}
	}
	for k, s := range r.Overrides {
		if a, b, ok := strings.Cut(k, "/"); !ok || a == "" || b == "" {
			return fmt.Errorf("overrides: key %q must be Availability/Activity", k)
		}
		if !states[s] {
			return fmt.Errorf("overrides[%s]: %q is not a state", k, s)
		}
	}
	if d := time.Duration(r.Debounce); d < 0 || d > time.Minute {
		return fmt.Errorf("debounce: %v must be between 0 and 1m", d)
	}
	return nil
}

// Map gives the downstream state for a Teams presence. Values are matched
// case-insensitively and unknown values (Microsoft adds some, such as
// Focusing) fall back on the availability.
func (r Rules) Map(availability, activity string) State {
	a, act := strings.ToLower(availability), strings.ToLower(activity)
	for k, s := range r.Overrides {
		if strings.EqualFold(k, availability+"/"+activity) {
			return s
		}
	}
	switch act {
	case "inacall":
		if r.TalkingInCall {
			return Talking
		}
	case "inaconferencecall":
		if r.TalkingInConference {
			return Talking
		}
	case "inameeting":
		if r.TalkingInMeeting {
			return Talking
		}
	case "presenting":
		if r.TalkingPresenting {
			return Talking
		}
	case "outofoffice", "offwork":
		if a != "busy" && a != "donotdisturb" {
			return Offline
		}
	}
	switch a {
	case "available":
		return Available
	case "availableidle":
		return r.AvailableIdle
	case "busy":
		return Busy
	case "busyidle":
		return r.BusyIdle
	case "donotdisturb":
		return DoNotDisturb
	case "away", "berightback":
		return Away
	case "offline":
		return Offline
	}
	return Unknown
}

// Sample is one presence to preview.
type Sample struct {
	Availability string `json:"availability"`
	Activity     string `json:"activity"`
}

// Preview shows what the rules emit for each sample (the rules page).
func (r Rules) Preview(samples []Sample) []State {
	out := make([]State, len(samples))
	for i, s := range samples {
		out[i] = r.Map(s.Availability, s.Activity)
	}
	return out
}

// PreviewSamples are the presences Teams commonly shows.
var PreviewSamples = []Sample{
	{"Available", "Available"}, {"AvailableIdle", "Available"}, {"Busy", "Busy"}, {"Busy", "InACall"},
	{"Busy", "InAConferenceCall"}, {"Busy", "InAMeeting"}, {"DoNotDisturb", "Presenting"}, {"DoNotDisturb", "DoNotDisturb"},
	{"BusyIdle", "Busy"}, {"Away", "Away"}, {"BeRightBack", "BeRightBack"}, {"Offline", "OffWork"}, {"Available", "OutOfOffice"},
	{"Offline", "Offline"}, {"PresenceUnknown", "PresenceUnknown"},
}

// Duration is a time.Duration written as "3s" in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
