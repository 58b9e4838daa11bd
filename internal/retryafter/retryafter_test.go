package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParseReadsSecondsAndDatesAndRefusesTheRest(t *testing.T) {
	for v, want := range map[string]time.Duration{"5": 5 * time.Second, " 0.5 ": 500 * time.Millisecond, "0": 0} {
		if got, ok := Parse(v); !ok || got != want {
			t.Errorf("Parse(%q) = %v %v, want %v", v, got, ok, want)
		}
	}
	if got, ok := Parse(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); !ok || got < 58*time.Second || got > time.Minute {
		t.Errorf("a date a minute ahead = %v %v", got, ok)
	}
	if got, ok := Parse(time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)); !ok || got != 0 {
		t.Errorf("a past date = %v %v, want 0", got, ok)
	}
	for _, v := range []string{"", "soon", "-3"} {
		if got, ok := Parse(v); ok || got != 0 {
			t.Errorf("Parse(%q) = %v %v, want nothing", v, got, ok)
		}
	}
}
