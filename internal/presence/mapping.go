// Package presence turns Teams presence into what the telephony platform
// acts on: per-tenant mapping rules from (availability, activity) and the
// rich presence (status message, out of office, work location) to a
// downstream state, the one rule that decides what becomes of an observed
// change (Decide: stale, unchanged, published, held by the debounce that
// absorbs call/meeting flaps, or suppressed), the event both channels
// carry (NewEvent), and the presence Graph lets us write back into Teams
// (the pairs and lifetimes in pairs.go).
package presence

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
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
	// of everything else.
	Overrides map[string]State `json:"overrides,omitempty"`
	// Rich presence (docs/graph.md#presence), each empty for no rule: the
	// state of a user out of office, by the type of their work location
	// (office, remote, timeOff; any case), and of a user with a status
	// message. They come after Overrides and talking, in that order, and
	// before the activity and availability: someone out of office who
	// takes a call is talking.
	OutOfOffice   State            `json:"outOfOffice,omitempty"`
	WorkLocation  map[string]State `json:"workLocation,omitempty"`
	StatusMessage State            `json:"statusMessage,omitempty"`
}

// workLocationTypes are the work location types a rule may name, as
// Graph spells them (https://learn.microsoft.com/en-us/graph/api/resources/userworklocation).
var workLocationTypes = []string{"office", "remote", "timeOff"}

// MaxOverrides bounds a tenant's overrides (each presence change is
// matched against them), and maxOverrideKey an override's key: more than
// any pair of Teams' availability and activity values needs.
const (
	MaxOverrides   = 100
	maxOverrideKey = 100
)

// DefaultRules are what a new tenant gets.
func DefaultRules() Rules {
	return Rules{TalkingInCall: true, TalkingInConference: true, TalkingInMeeting: true, TalkingPresenting: true,
		AvailableIdle: Away, BusyIdle: Busy, Debounce: Duration(3 * time.Second)}
}

// Validate checks the states named, the keys of the overrides and work
// location rules, and the debounce. It judges in a fixed order, so the
// same rules always get the same message, and compares keys as Map
// matches them (strings.EqualFold).
func (r Rules) Validate() error {
	for _, x := range []struct {
		name string
		s    State
	}{{"availableIdle", r.AvailableIdle}, {"busyIdle", r.BusyIdle}} {
		if !states[x.s] {
			return fmt.Errorf("%s: %q is not a state (available, talking, busy, away, dnd, offline, unknown)", x.name, x.s)
		}
	}
	if len(r.Overrides) > MaxOverrides {
		return fmt.Errorf("overrides: %d of them, at most %d (Teams has fewer availability/activity pairs than that)", len(r.Overrides), MaxOverrides)
	}
	keys := slices.Sorted(maps.Keys(r.Overrides))
	for i, k := range keys {
		// No control characters: PostgreSQL's jsonb refuses the rules
		// with a \u0000, and Teams names nothing with one.
		if a, b, ok := strings.Cut(k, "/"); !ok || a == "" || b == "" || len(k) > maxOverrideKey || strings.IndexFunc(k, unicode.IsControl) >= 0 {
			return fmt.Errorf("overrides: key %q must be Availability/Activity", k)
		}
		if s := r.Overrides[k]; !states[s] {
			return fmt.Errorf("overrides[%s]: %q is not a state", k, s)
		}
		// Matched in any case: two keys that differ only in case
		// would leave the state to chance.
		if other, dup := sameKey(keys[:i], k); dup {
			return fmt.Errorf("overrides: %q and %q name the same pair (case does not count)", other, k)
		}
	}
	for _, x := range []struct {
		name string
		s    State
	}{{"outOfOffice", r.OutOfOffice}, {"statusMessage", r.StatusMessage}} {
		if x.s != "" && !states[x.s] {
			return fmt.Errorf("%s: %q is not a state (available, talking, busy, away, dnd, offline, unknown; absent for no rule)", x.name, x.s)
		}
	}
	keys = slices.Sorted(maps.Keys(r.WorkLocation))
	for i, k := range keys {
		if _, ok := sameKey(workLocationTypes, k); !ok {
			return fmt.Errorf("workLocation: key %q must be a work location type (office, remote, timeOff)", k)
		}
		if s := r.WorkLocation[k]; !states[s] {
			return fmt.Errorf("workLocation[%s]: %q is not a state", k, s)
		}
		if other, dup := sameKey(keys[:i], k); dup {
			return fmt.Errorf("workLocation: %q and %q name the same type (case does not count)", other, k)
		}
	}
	if d := time.Duration(r.Debounce); d < 0 || d > time.Minute {
		return fmt.Errorf("debounce: %v must be between 0 and 1m", d)
	}
	return nil
}

// sameKey finds the key among keys that Map would take for k.
func sameKey(keys []string, k string) (string, bool) {
	i := slices.IndexFunc(keys, func(o string) bool { return strings.EqualFold(o, k) })
	if i < 0 {
		return "", false
	}
	return keys[i], true
}

// Map gives the downstream state for a Teams presence: the overrides,
// then talking, then the rich presence rules, then the activity and the
// availability. Values are matched case-insensitively and unknown values
// (Microsoft adds some, such as Focusing) fall back on the availability.
func (r Rules) Map(availability, activity string, rich Rich) State {
	a, act := strings.ToLower(availability), strings.ToLower(activity)
	for k, s := range r.Overrides {
		if strings.EqualFold(k, availability+"/"+activity) {
			return s
		}
	}
	if r.talking(act) {
		return Talking
	}
	if s := r.mapRich(rich); s != "" {
		return s
	}
	if (act == "outofoffice" || act == "offwork") && a != "busy" && a != "donotdisturb" {
		return Offline
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

// talking reports whether the rules count an activity (lower case) as
// talking.
func (r Rules) talking(act string) bool {
	switch act {
	case "inacall":
		return r.TalkingInCall
	case "inaconferencecall":
		return r.TalkingInConference
	case "inameeting":
		return r.TalkingInMeeting
	case "presenting":
		return r.TalkingPresenting
	}
	return false
}

// mapRich is the state the rich presence rules give, "" when none
// applies.
func (r Rules) mapRich(rich Rich) State {
	if r.OutOfOffice != "" && rich.OutOfOfficeNow() {
		return r.OutOfOffice
	}
	if wl := rich.WorkLocation; wl != nil {
		for k, s := range r.WorkLocation {
			if strings.EqualFold(k, wl.WorkLocationType) {
				return s
			}
		}
	}
	if r.StatusMessage != "" && rich.StatusMessage != nil {
		return r.StatusMessage
	}
	return ""
}

// Sample is one presence to preview.
type Sample struct {
	Availability string `json:"availability"`
	Activity     string `json:"activity"`
	Rich
}

// Preview shows what the rules emit for each sample (the rules page).
func (r Rules) Preview(samples []Sample) []State {
	out := make([]State, len(samples))
	for i, s := range samples {
		out[i] = r.Map(s.Availability, s.Activity, s.Rich)
	}
	return out
}

// PreviewSamples are the presences Teams commonly shows. Teams shows an
// available user who is out of office as Available/OutOfOffice.
var PreviewSamples = []Sample{
	{Availability: "Available", Activity: "Available"}, {Availability: "AvailableIdle", Activity: "Available"},
	{Availability: "Busy", Activity: "Busy"}, {Availability: "Busy", Activity: "InACall"},
	{Availability: "Busy", Activity: "InAConferenceCall"}, {Availability: "Busy", Activity: "InAMeeting"},
	{Availability: "DoNotDisturb", Activity: "Presenting"}, {Availability: "DoNotDisturb", Activity: "DoNotDisturb"},
	{Availability: "BusyIdle", Activity: "Busy"}, {Availability: "Away", Activity: "Away"},
	{Availability: "BeRightBack", Activity: "BeRightBack"}, {Availability: "Offline", Activity: "OffWork"},
	{Availability: "Available", Activity: "OutOfOffice", Rich: Rich{OutOfOffice: &OutOfOffice{IsOutOfOffice: true}}},
	{Availability: "Offline", Activity: "Offline"}, {Availability: "PresenceUnknown", Activity: "PresenceUnknown"},
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
