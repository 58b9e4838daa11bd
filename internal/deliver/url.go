//lint:file-ignore ST1005 the errors are sentences shown to people (the onboarding form, the API's 422) as they are

package deliver

import (
	"errors"
	"net/netip"
	"net/url"

	"presencebridge/internal/netaddr"
)

// CheckURL says, in a sentence for the person who typed it, why raw cannot
// be a webhook endpoint: not https, or an address the internet cannot
// reach. Loopback targets (http or https) pass only when allowLoopback
// (tests and development). Every connection is checked again after DNS
// (checkAddress), since a public name can resolve to a private address.
func CheckURL(raw string, allowLoopback bool) error {
	if raw == "" {
		return errors.New("Enter the https URL that should receive presence events.")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("Enter a URL such as https://events.example.com/presence.")
	}
	host := u.Hostname()
	ip, err := netip.ParseAddr(host)
	literal := err == nil
	loopback := netaddr.Loopback(host)
	switch {
	case loopback && allowLoopback:
		if u.Scheme != "http" && u.Scheme != "https" {
			return errors.New("Use an http or https URL.")
		}
	case u.Scheme != "https":
		return errors.New("Use an https URL: events carry presence data.")
	case loopback || (literal && !Public(ip)):
		return errors.New("This address is not reachable from the internet; use a public https URL.")
	}
	return nil
}

// Public reports whether ip is an address of the public internet — global
// unicast, outside every range IANA's special-purpose registries mark not
// globally reachable — after unwrapping the IPv4 address an IPv6 address
// carries (IPv4-mapped, NAT64, 6to4, Teredo): a webhook must not reach
// our own network, the cloud's metadata service or a neighbour through a
// translation prefix. Registries:
// https://www.iana.org/assignments/iana-ipv4-special-registry and
// https://www.iana.org/assignments/iana-ipv6-special-registry.
func Public(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		for _, embedded := range embeddedIPv4(ip) {
			if !Public(embedded) {
				return false
			}
		}
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range notGlobal {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// notGlobal are the special-purpose ranges IsGlobalUnicast and IsPrivate
// leave in (the registries' "Globally Reachable: False", and the ranges
// that only carry another address, whose IPv4 address embeddedIPv4 has
// already judged). Prefixes of whole translation mechanisms whose inner
// address we do not unwrap are refused outright.
var notGlobal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.31.196.0/24"), // AS112
	netip.MustParsePrefix("192.52.193.0/24"), // AMT
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("192.175.48.0/24"), // direct delegation AS112
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo's inner addresses are judged too)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // segment routing SIDs
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	teredo    = netip.MustParsePrefix("2001::/32")
)

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries: the
// one a NAT64 gateway reaches (RFC 6052), a 6to4 site's (RFC 3056), a
// Teredo client's and its server's (RFC 4380: the client's bits
// inverted).
func embeddedIPv4(ip netip.Addr) []netip.Addr {
	b := ip.As16()
	v4 := func(p []byte) netip.Addr { return netip.AddrFrom4([4]byte(p)) }
	switch {
	case nat64.Contains(ip):
		return []netip.Addr{v4(b[12:16])}
	case sixToFour.Contains(ip):
		return []netip.Addr{v4(b[2:6])}
	case teredo.Contains(ip):
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		return []netip.Addr{v4(b[4:8]), netip.AddrFrom4(client)}
	}
	return nil
}
