package deliver

import "testing"

func TestCheckURLAcceptsPublicHTTPSAndLoopbackOnlyWhenAllowed(t *testing.T) {
	for _, c := range []struct {
		url           string
		allowLoopback bool
		ok            bool
	}{
		{"https://events.example.com/presence", false, true},
		{"https://203.0.113.7/hook", false, true},
		{"", false, false},
		{"events.example.com/presence", false, false},
		{"https://user:pass@events.example.com/", false, false},
		{"https://events.example.com/#frag", false, false},
		{"http://events.example.com/presence", false, false},
		{"http://events.example.com/presence", true, false},
		{"https://10.0.0.5/hook", false, false},
		{"https://169.254.169.254/latest", true, false},
		{"https://[::]/hook", false, false},
		{"http://127.0.0.1:8080/hook", false, false},
		{"https://localhost/hook", false, false},
		{"http://127.0.0.1:8080/hook", true, true},
		{"http://localhost:9000/hook", true, true},
		{"ftp://localhost/hook", true, false},
	} {
		err := CheckURL(c.url, c.allowLoopback)
		if (err == nil) != c.ok {
			t.Errorf("CheckURL(%q, loopback %v) = %v, want ok %v", c.url, c.allowLoopback, err, c.ok)
		}
	}
}
