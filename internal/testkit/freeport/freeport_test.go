package freeport

import (
	"net"
	"strconv"
	"testing"
)

// The address is on loopback, below the ephemeral range that outgoing
// connections and listeners on port 0 draw from, and free to listen on.
func TestAddrIsAFreeLoopbackPortBelowTheEphemeralRange(t *testing.T) {
	for range 20 {
		addr, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if host != "127.0.0.1" || port < lowest || port >= ephemeralStart() {
			t.Fatalf("%s: want 127.0.0.1 and a port in [%d, %d)", addr, lowest, ephemeralStart())
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		ln.Close()
	}
}
