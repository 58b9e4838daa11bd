package mail

import (
	"context"
	"net"
	"testing"
	"time"
)

// A server that accepts the connection and then says nothing would hold a
// send for go-mail's own timeout (30 s per command) whatever the caller's
// context: Send ends when the context does, so a shutdown is not held up.
func TestASendToAServerThatNeverGreetsEndsWhenItsContextDoes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, silent
		}
	}()
	m, err := NewSMTP(SMTPOptions{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, From: "alerts@bridge.example", TLS: TLSOpportunistic})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = m.Send(ctx, testMessage)
	if took := time.Since(start); err == nil || took > 5*time.Second {
		t.Fatalf("Send returned %v after %s, want an error soon after its context ended", err, took)
	}
}
