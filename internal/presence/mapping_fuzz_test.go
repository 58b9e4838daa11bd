package presence

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzMappingRules: Validate gives the same verdict and message every
// time (it used to name one of two bad fields at random). Rules that
// parse and validate hold no NUL (PostgreSQL's jsonb refuses them: the
// API answered 503 for an override key with one) and marshal to JSON that
// parses back to the same rules, which validate and marshal to the same
// bytes. Their mapping of any presence is a state, the same on every call
// — map order never decides it: at most one override and one work
// location rule match any presence (keys differing only in case, "remote"
// and "Remote", or as strings.EqualFold folds, "Busy/InACall" and
// "Bu\u017fy/InACall", used to pass Validate) — and after the round trip.
// The regressions are in testdata/fuzz/FuzzMappingRules.
func FuzzMappingRules(f *testing.F) {
	def, _ := json.Marshal(DefaultRules())
	f.Add(def, "Busy", "InACall", false, "", "")
	f.Add([]byte(`{"talkingInCall":true,"talkingInConferenceCall":false,"talkingInMeeting":true,"talkingPresenting":false,`+
		`"availableIdle":"away","busyIdle":"busy","debounce":"2.5s","overrides":{"Busy/InAConferenceCall":"dnd","away/berightback":"offline"},`+
		`"outOfOffice":"offline","workLocation":{"office":"available","timeOff":"offline"},"statusMessage":"busy"}`),
		"busy", "inaconferencecall", true, "timeoff", "back at 3")
	f.Add([]byte(`{"availableIdle":"away","busyIdle":"busy","debounce":"0s","overrides":{"Busy/InACall":"dnd","busy/inacall":"away"}}`),
		"Busy", "InACall", false, "", "")
	f.Add([]byte(`{"availableIdle":"ringing","busyIdle":"later","debounce":"-1s"}`), "", "", false, "", "")
	f.Fuzz(func(t *testing.T, raw []byte, availability, activity string, outOfOffice bool, workLocation, statusMessage string) {
		var r Rules
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		err := r.Validate()
		for range 8 {
			if again := r.Validate(); (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
				t.Fatalf("Validate said %v, then %v", err, again)
			}
		}
		if err != nil {
			return
		}
		once, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("valid rules do not marshal: %v", err)
		}
		if strings.Contains(string(once), `\u0000`) {
			t.Fatalf("valid rules hold a NUL, which PostgreSQL's jsonb refuses: %s", once)
		}
		var back Rules
		if err := json.Unmarshal(once, &back); err != nil || back.Validate() != nil {
			t.Fatalf("valid rules marshal to %s, which reads back as %+v (%v, valid: %v)", once, back, err, back.Validate())
		}
		if twice, _ := json.Marshal(back); string(twice) != string(once) || !reflect.DeepEqual(withoutEmpty(back), withoutEmpty(r)) {
			t.Fatalf("round trip changed the rules:\n%s\n%s", once, twice)
		}

		rich := Rich{OutOfOffice: &OutOfOffice{IsOutOfOffice: outOfOffice}}
		if workLocation != "" {
			rich.WorkLocation = &WorkLocation{WorkLocationType: workLocation}
		}
		if statusMessage != "" {
			rich.StatusMessage = &StatusMessage{Message: statusMessage}
		}
		if n := matching(r.Overrides, availability+"/"+activity); n > 1 {
			t.Fatalf("%d overrides match %s/%s: the state would be left to map order", n, availability, activity)
		}
		if n := matching(r.WorkLocation, workLocation); n > 1 {
			t.Fatalf("%d work location rules match %q: the state would be left to map order", n, workLocation)
		}
		s := r.Map(availability, activity, rich)
		if !states[s] {
			t.Fatalf("Map(%q, %q) = %q, not a state", availability, activity, s)
		}
		for range 3 {
			if again := r.Map(availability, activity, rich); again != s {
				t.Fatalf("Map(%q, %q) = %s, then %s", availability, activity, s, again)
			}
		}
		if got := back.Map(availability, activity, rich); got != s {
			t.Fatalf("Map(%q, %q) = %s, after the round trip %s", availability, activity, s, got)
		}
	})
}

// matching counts the keys of rules Map matches with value.
func matching(rules map[string]State, value string) int {
	n := 0
	for k := range rules {
		if strings.EqualFold(k, value) {
			n++
		}
	}
	return n
}

// withoutEmpty is r with empty maps as nil: JSON omits both alike.
func withoutEmpty(r Rules) Rules {
	if len(r.Overrides) == 0 {
		r.Overrides = nil
	}
	if len(r.WorkLocation) == 0 {
		r.WorkLocation = nil
	}
	return r
}
