package netaddr

import "testing"

func TestLoopbackIsLocalhostOrALoopbackLiteralAndNothingElse(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":        true,
		"127.0.0.1":        true,
		"127.8.9.10":       true,
		"::1":              true,
		"::ffff:127.0.0.1": true,
		"":                 false,
		"localhost.":       false,
		"example.com":      false,
		"10.0.0.1":         false,
		"::":               false,
		"[::1]":            false, // a Hostname has no brackets
		"fe80::1%lo":       false,
		"128.0.0.1":        false,
	} {
		if got := Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", host, got, want)
		}
	}
}
