package english

import "testing"

func TestCountTakesTheSingularOnlyForOne(t *testing.T) {
	for n, want := range map[int]string{0: "0 users", 1: "1 user", 2: "2 users"} {
		if got := Count(n, "user", "users"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
