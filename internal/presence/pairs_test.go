package presence

import (
	"testing"
	"time"
)

func TestSetPresenceAcceptsOnlyMicrosoftsFivePairs(t *testing.T) {
	for _, c := range []struct {
		availability, activity string
		want                   bool
	}{
		{"Available", "Available", true},
		{"Busy", "InACall", true},
		{"Busy", "InAConferenceCall", true},
		{"Away", "Away", true},
		{"DoNotDisturb", "Presenting", true},
		{"busy", "inacall", true}, // any case
		{"Busy", "Busy", false},   // preferred presence only
		{"Busy", "InAMeeting", false},
		{"DoNotDisturb", "DoNotDisturb", false},
		{"BeRightBack", "BeRightBack", false},
		{"Offline", "OffWork", false},
		{"", "", false},
	} {
		if got := ValidSessionPair(c.availability, c.activity); got != c.want {
			t.Errorf("ValidSessionPair(%q, %q) = %v, want %v", c.availability, c.activity, got, c.want)
		}
	}
	if n := len(SessionPairs()); n != 5 {
		t.Errorf("%d session pairs, want 5", n)
	}
}

func TestPreferredPresenceAcceptsOnlyMicrosoftsSixPairs(t *testing.T) {
	for _, c := range []struct {
		availability, activity string
		want                   bool
	}{
		{"Available", "Available", true},
		{"Busy", "Busy", true},
		{"DoNotDisturb", "DoNotDisturb", true},
		{"BeRightBack", "BeRightBack", true},
		{"Away", "Away", true},
		{"Offline", "OffWork", true},
		{"OFFLINE", "offwork", true},
		{"Busy", "InACall", false}, // a session's, not a preference
		{"DoNotDisturb", "Presenting", false},
		{"Offline", "Offline", false},
	} {
		if got := ValidPreferredPair(c.availability, c.activity); got != c.want {
			t.Errorf("ValidPreferredPair(%q, %q) = %v, want %v", c.availability, c.activity, got, c.want)
		}
	}
	if n := len(PreferredPairs()); n != 6 {
		t.Errorf("%d preferred pairs, want 6", n)
	}
}

func TestAMatchedPairIsSpeltAsGraphSpellsIt(t *testing.T) {
	p, ok := MatchSessionPair("donotdisturb", "PRESENTING")
	if !ok || p != (Pair{"DoNotDisturb", "Presenting"}) || p.String() != "DoNotDisturb/Presenting" {
		t.Errorf("MatchSessionPair = %v, %v", p, ok)
	}
	if p, ok := MatchPreferredPair("offline", "offwork"); !ok || p != (Pair{"Offline", "OffWork"}) {
		t.Errorf("MatchPreferredPair = %v, %v", p, ok)
	}
}

func TestTheAllowedListsAreCopies(t *testing.T) {
	SessionPairs()[0] = Pair{"Busy", "Busy"}
	PreferredPairs()[0] = Pair{"Busy", "InACall"}
	if ValidSessionPair("Busy", "Busy") || ValidPreferredPair("Busy", "InACall") {
		t.Error("changing a returned list changed the rules")
	}
}

func TestSessionExpiryRunsFromFiveMinutesToFourHours(t *testing.T) {
	for d, want := range map[time.Duration]bool{
		5 * time.Minute: true, 4 * time.Hour: true, DefaultSessionExpiry: true,
		5*time.Minute - time.Second: false, 4*time.Hour + time.Second: false, 0: false,
	} {
		if got := ValidSessionExpiry(d); got != want {
			t.Errorf("ValidSessionExpiry(%v) = %v, want %v", d, got, want)
		}
	}
}

func TestPreferredPresenceLastsADayWhenBusyAndAWeekOtherwise(t *testing.T) {
	for a, want := range map[string]time.Duration{
		"Busy": 24 * time.Hour, "donotdisturb": 24 * time.Hour,
		"Available": 7 * 24 * time.Hour, "BeRightBack": 7 * 24 * time.Hour, "Offline": 7 * 24 * time.Hour,
	} {
		if got := DefaultPreferredExpiry(a); got != want {
			t.Errorf("DefaultPreferredExpiry(%q) = %v, want %v", a, got, want)
		}
	}
}
