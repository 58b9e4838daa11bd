package deliver

import (
	"net/netip"
	"testing"
)

func TestCheckURLAcceptsPublicHTTPSAndLoopbackOnlyWhenAllowed(t *testing.T) {
	for _, c := range []struct {
		url           string
		allowLoopback bool
		ok            bool
	}{
		{"https://events.example.com/presence", false, true},
		{"https://93.184.215.14/hook", false, true},
		{"https://203.0.113.7/hook", false, false}, // documentation range
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

func TestOnlyPublicAddressesPassEvenInsideIPv6Translations(t *testing.T) {
	for addr, public := range map[string]bool{
		"93.184.215.14": true, "2606:4700:4700::1111": true,
		// IPv4 ranges that are not the internet.
		"0.0.0.0": false, "0.1.2.3": false, "10.1.2.3": false, "100.64.0.1": false, "127.0.0.1": false,
		"169.254.169.254": false, "172.16.0.1": false, "192.0.0.8": false, "192.0.2.1": false, "192.168.1.1": false,
		"198.18.0.1": false, "198.19.255.254": false, "198.51.100.1": false, "203.0.113.1": false, "224.0.0.1": false,
		"240.0.0.1": false, "255.255.255.255": false,
		// IPv6 ranges that are not the internet.
		"::": false, "::1": false, "fe80::1": false, "fc00::1": false, "fd12:3456::1": false, "ff02::1": false,
		"2001:db8::1": false, "100::1": false, "::a00:1": false, "64:ff9b:1::a00:1": false,
		// IPv4 addresses carried in IPv6: mapped, NAT64, 6to4, Teredo.
		"::ffff:10.0.0.1": false, "::ffff:93.184.215.14": true,
		"64:ff9b::a00:1": false, "64:ff9b::a9fe:a9fe": false, "64:ff9b::5db8:d70e": true,
		"2002:a00:1::1": false, "2002:7f00:1::1": false, "2002:5db8:d70e::1": true,
		// Teredo: server 93.184.215.14, client 10.0.0.1 (inverted: f5ff:fffe).
		"2001:0:5db8:d70e::f5ff:fffe": false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != public {
			t.Errorf("Public(%s) = %v, want %v", addr, got, public)
		}
	}
	d := New(nil, Options{})
	for addr, refused := range map[string]bool{"[64:ff9b::a00:1]:443": true, "198.18.0.1:443": true, "93.184.215.14:443": false} {
		if err := d.checkAddress("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("dialling %s: %v, want refused %v", addr, err, refused)
		}
	}
}
