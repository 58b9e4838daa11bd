package main

import (
	"net"
	"strings"
	"testing"

	"presencebridge/internal/config"
)

// PB_ADMIN_ADDR with port 0 (any free port, as tests and a second local
// instance use it) must give the console's URL with the port actually
// bound: staff are sent back there after signing in, and dev prints it.
func TestTheConsoleURLNamesThePortTheAdminListenerBound(t *testing.T) {
	cfg := &config.Config{HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}
	ln, err := listenAll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := cfg.ConsoleBaseURL("http://localhost:1")
	_, port, err := net.SplitHostPort(strings.TrimPrefix(got, "http://"))
	if err != nil {
		t.Fatalf("console URL %q: %v", got, err)
	}
	if port == "0" {
		t.Fatalf("console URL %q names port 0, not the port bound", got)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(got, "http://"))
	if err != nil {
		t.Fatalf("nothing listens at the console URL %q: %v", got, err)
	}
	c.Close()
}
