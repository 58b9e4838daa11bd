package presence

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDefaultRulesMapTeamsStates(t *testing.T) {
	r := DefaultRules()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []State{Available, Away, Busy, Talking, Talking, Talking, Talking, DoNotDisturb, Busy, Away, Away, Offline, Offline, Offline, Unknown}
	got := r.Preview(PreviewSamples)
	for i, s := range PreviewSamples {
		if got[i] != want[i] {
			t.Errorf("%s/%s → %s, want %s", s.Availability, s.Activity, got[i], want[i])
		}
	}
	// Case does not matter; unknown activities fall back on availability.
	if r.Map("busy", "inacall", Rich{}) != Talking || r.Map("BUSY", "Focusing", Rich{}) != Busy || r.Map("Focusing", "Focusing", Rich{}) != Unknown {
		t.Error("case-insensitive or unknown-value mapping is wrong")
	}
}

func TestRulesAreSwitchable(t *testing.T) {
	r := DefaultRules()
	r.TalkingInMeeting, r.TalkingPresenting = false, false
	r.AvailableIdle = Available
	r.Overrides = map[string]State{"busy/inaconferencecall": DoNotDisturb}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		a, act string
		want   State
	}{
		{"Busy", "InAMeeting", Busy}, {"DoNotDisturb", "Presenting", DoNotDisturb}, {"Busy", "InACall", Talking},
		{"AvailableIdle", "Available", Available}, {"Busy", "InAConferenceCall", DoNotDisturb},
	} {
		if got := r.Map(c.a, c.act, Rich{}); got != c.want {
			t.Errorf("%s/%s → %s, want %s", c.a, c.act, got, c.want)
		}
	}
}

func TestRulesValidateAndRoundTrip(t *testing.T) {
	for name, edit := range map[string]func(*Rules){
		"bad idle state":             func(r *Rules) { r.BusyIdle = "ringing" },
		"bad override":               func(r *Rules) { r.Overrides = map[string]State{"Busy": Talking} },
		"bad target":                 func(r *Rules) { r.Overrides = map[string]State{"Busy/Busy": "x"} },
		"long debounce":              func(r *Rules) { r.Debounce = Duration(2 * time.Minute) },
		"bad out-of-office state":    func(r *Rules) { r.OutOfOffice = "unavailable" },
		"bad status message state":   func(r *Rules) { r.StatusMessage = "later" },
		"unknown work location type": func(r *Rules) { r.WorkLocation = map[string]State{"beach": Away} },
		"unspecified work location":  func(r *Rules) { r.WorkLocation = map[string]State{"unspecified": Away} },
		"bad work location state":    func(r *Rules) { r.WorkLocation = map[string]State{"remote": "home"} },
		"empty work location state":  func(r *Rules) { r.WorkLocation = map[string]State{"office": ""} },
	} {
		r := DefaultRules()
		edit(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	b, err := json.Marshal(DefaultRules())
	if err != nil || !strings.Contains(string(b), `"debounce":"3s"`) {
		t.Fatalf("JSON = %s %v", b, err)
	}
	var back Rules
	if err := json.Unmarshal(b, &back); err != nil || back.Debounce != DefaultRules().Debounce || !back.TalkingInCall {
		t.Errorf("round trip = %+v %v", back, err)
	}
}

// TestRulesMapRichPresence: out of office, the work location type and a
// status message each map to a state when the tenant asks, after the
// overrides and talking and before the activity and availability.
func TestRulesMapRichPresence(t *testing.T) {
	r := DefaultRules()
	r.OutOfOffice = Offline
	r.WorkLocation = map[string]State{"TimeOff": Offline, "remote": Away}
	r.StatusMessage = Busy
	r.Overrides = map[string]State{"DoNotDisturb/DoNotDisturb": DoNotDisturb}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	away := Rich{OutOfOffice: &OutOfOffice{IsOutOfOffice: true, Message: "Back Monday"}}
	in := Rich{OutOfOffice: &OutOfOffice{}}
	remote := Rich{WorkLocation: &WorkLocation{WorkLocationType: "remote", Source: "manual"}}
	timeOff := Rich{WorkLocation: &WorkLocation{WorkLocationType: "timeOff", Source: "scheduled"}}
	office := Rich{WorkLocation: &WorkLocation{WorkLocationType: "office", Source: "automatic"}}
	message := Rich{StatusMessage: &StatusMessage{Message: "On the support line"}}
	both := Rich{OutOfOffice: away.OutOfOffice, WorkLocation: remote.WorkLocation, StatusMessage: message.StatusMessage}
	for _, c := range []struct {
		name, a, act string
		rich         Rich
		want         State
	}{
		{"out of office", "Available", "OutOfOffice", away, Offline},
		{"out of office, busy in Teams", "Busy", "Busy", away, Offline},
		{"in the office is no rule", "Available", "Available", in, Available},
		{"out of office and in a call is talking", "Busy", "InACall", away, Talking},
		{"an override beats out of office", "DoNotDisturb", "DoNotDisturb", away, DoNotDisturb},
		{"working remotely", "Available", "Available", remote, Away},
		{"time off, any case", "Available", "Available", timeOff, Offline},
		{"a location without a rule", "Available", "Available", office, Available},
		{"a status message", "Available", "Available", message, Busy},
		{"out of office first, then the location, then the message", "Available", "Available", both, Offline},
		{"nothing rich", "Available", "Available", Rich{}, Available},
	} {
		if got := r.Map(c.a, c.act, c.rich); got != c.want {
			t.Errorf("%s: %s/%s → %s, want %s", c.name, c.a, c.act, got, c.want)
		}
	}
	// Without rules for them, rich presence changes nothing.
	d := DefaultRules()
	if d.Map("Available", "Available", both) != Available || d.Map("Busy", "Busy", away) != Busy {
		t.Error("the default rules map rich presence")
	}
}

func TestOverridesAreBoundedMatchedInAnyCaseAndNeverTwiceForOnePair(t *testing.T) {
	r := DefaultRules()
	r.Overrides = map[string]State{"busy/inacall": Away}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := r.Map("Busy", "InACall", Rich{}); got != Away {
		t.Errorf("an override written in lower case: %s for Busy/InACall", got)
	}
	// Two keys for one pair would leave the state to the map's order.
	r.Overrides = map[string]State{"Busy/InACall": Away, "busy/inacall": DoNotDisturb}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "name the same pair") {
		t.Errorf("two keys for one pair: %v", err)
	}
	r.Overrides = map[string]State{}
	for i := range MaxOverrides + 1 {
		r.Overrides[fmt.Sprintf("Busy/Activity%d", i)] = Busy
	}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("%d overrides: %v", len(r.Overrides), err)
	}
	r.Overrides = map[string]State{"Busy/" + strings.Repeat("x", 200): Busy}
	if err := r.Validate(); err == nil {
		t.Error("a 205-character key was accepted")
	}
}
