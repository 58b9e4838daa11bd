// Package freeport gives a loopback address for a process the tests start
// and must know the address of beforehand (an admin listener set in its
// configuration, a restart on the same port).
//
// A port the kernel picked for a listener on port 0, closed at once, is
// free only a moment: it comes from the ephemeral range, which also gives
// every outgoing connection its source port and every other listener on
// port 0 its port, and on a busy machine (the CI's packages run in
// parallel) one of them took it before the process bound it
// ("PB_ADMIN_ADDR: 127.0.0.1:40181 is already in use",
// TestStaffAccountsMadeWithTheCommandSignInToTheConsoleOnTheAdminListener).
// Addr picks below that range, where only an explicit choice lands.
// Apart from testkit, which the fault harness's non-test code does not
// import.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// lowest is the lowest port Addr picks: above the well-known and most
// registered services' ports.
const lowest = 10_000

// Addr returns 127.0.0.1:port for a port below the kernel's ephemeral
// range that no one listened on a moment ago.
func Addr() (string, error) {
	below := ephemeralStart()
	for range 100 {
		port := lowest + rand.IntN(below-lowest)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use: another
		}
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			return "", err
		}
		return addr, nil
	}
	return "", fmt.Errorf("freeport: no free port found between %d and %d in 100 tries", lowest, below)
}

// ephemeralStart is the first port of the kernel's ephemeral range
// (Linux's ip_local_port_range; its default, 32768, where unreadable or
// too low to leave room below it).
func ephemeralStart() int {
	const fallback = 32_768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo < lowest+1_000 {
		return fallback
	}
	return lo
}
