package presence

import (
	"encoding/json"
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
	if r.Map("busy", "inacall") != Talking || r.Map("BUSY", "Focusing") != Busy || r.Map("Focusing", "Focusing") != Unknown {
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
		if got := r.Map(c.a, c.act); got != c.want {
			t.Errorf("%s/%s → %s, want %s", c.a, c.act, got, c.want)
		}
	}
}

func TestRulesValidateAndRoundTrip(t *testing.T) {
	for name, edit := range map[string]func(*Rules){
		"bad idle state": func(r *Rules) { r.BusyIdle = "ringing" },
		"bad override":   func(r *Rules) { r.Overrides = map[string]State{"Busy": Talking} },
		"bad target":     func(r *Rules) { r.Overrides = map[string]State{"Busy/Busy": "x"} },
		"long debounce":  func(r *Rules) { r.Debounce = Duration(2 * time.Minute) },
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
