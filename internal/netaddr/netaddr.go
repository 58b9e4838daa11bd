// Package netaddr holds what the product decides from a URL's host alone.
// Configuration and webhook endpoints both treat a loopback host as the
// machine itself (development, tests): it may be reached over plain http,
// and nowhere else may.
package netaddr

import "net/netip"

// Loopback reports whether host, a URL's hostname (url.URL.Hostname:
// no port, no brackets), names this machine: "localhost", or an IP literal
// in 127.0.0.0/8 or ::1, an IPv4-mapped IPv6 address of the former
// included. It does not resolve names: another name for this machine is
// not loopback here.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
