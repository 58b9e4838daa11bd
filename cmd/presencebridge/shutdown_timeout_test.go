package main

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"presencebridge/internal/store"
	"presencebridge/internal/store/schema"
	"presencebridge/internal/store/storetest"
	"presencebridge/internal/testkit"
)

// An alert-mail job waiting on an SMTP server that accepted the connection
// and says nothing stops at SIGTERM: its send ends with its context (the
// mail library alone would read the greeting under its own 30 s deadline),
// so the shutdown is clean and quick, exit 0. That a job which does ignore
// cancellation is given up at PB_SHUTDOWN_TIMEOUT and named is
// internal/jobs' TestShutdownGivesUpOnAJobThatIgnoresCancellationAndNamesIt.
func TestAnAlertMailJobWaitingOnASilentSMTPServerStopsAtSIGTERM(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := silent.Accept(); err == nil {
			accepted <- c
		}
	}()
	dsn := freshDatabase(t, "shutdown_job")
	pool := openPool(t, dsn)
	if err := schema.Up(t.Context(), pool, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	tenant := storetest.Tenant(t, pool, "Contoso")
	testkit.Exec(t, pool, `UPDATE tenants SET status = 'active', admin_email = 'admin@contoso.example' WHERE id = $1`, tenant)
	if err := storetest.Open(t, pool).RaiseAlert(t.Context(), tenant, store.AlertMonitorNeedsReauth, "m1@contoso.example",
		"Presence monitor m1@contoso.example must be authorized again.", nil); err != nil {
		t.Fatal(err)
	}

	port := silent.Addr().(*net.TCPAddr).Port
	p := startProcess(t, []string{"PB_ENV=development", testKey, "PB_DATABASE_URL=" + dsn, "PB_SHUTDOWN_TIMEOUT=2s",
		"PB_SMTP_HOST=127.0.0.1", fmt.Sprintf("PB_SMTP_PORT=%d", port), "PB_SMTP_FROM=alerts@example.com", "PB_SMTP_TLS=opportunistic"}, "serve")
	p.waitReady(t, 30*time.Second)
	select {
	case c := <-accepted: // the alert mail job is sending: it waits for a greeting
		defer c.Close()
	case <-time.After(30 * time.Second):
		t.Fatalf("the alert mail job did not connect to the SMTP server; output:\n%s", p.log())
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	code, took := p.waitExit(t, 15*time.Second)
	if code != 0 || took > 2*time.Second {
		t.Errorf("exit code %d %v after SIGTERM, want 0 well within PB_SHUTDOWN_TIMEOUT (2 s); output:\n%s", code, took, p.log())
	}
}

// PB_SHUTDOWN_TIMEOUT bounds the HTTP drain too: a request that does not
// finish (a browser that stopped sending its form, which the server reads
// for up to 30 s) does not keep the process for the server's own 20 s; it
// exits at the timeout, not 0, and says which request did not finish.
func TestShutdownEndsAtPBShutdownTimeoutWhenARequestDoesNotFinish(t *testing.T) {
	dsn := freshDatabase(t, "shutdown_request")
	p := startProcess(t, []string{"PB_ENV=development", testKey, "PB_DATABASE_URL=" + dsn, "PB_SHUTDOWN_TIMEOUT=2s"}, "web")
	addr := hostOf(t, p.waitReady(t, 30*time.Second))
	conn, _ := postInFlight(t, p, addr, "/onboarding/signin", 1000, "Content-Type: application/x-www-form-urlencoded")
	conn.Write([]byte("upn=")) // and nothing more
	requireGivenUp(t, p, "POST /onboarding/signin")
}

// requireGivenUp sends SIGTERM to p, which runs with a
// PB_SHUTDOWN_TIMEOUT of 2 s and something that will not stop, named
// what: p must exit within the timeout and a margin for a busy machine,
// with a code other than 0 and a line naming what and the setting.
func requireGivenUp(t *testing.T, p *process, what string) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	code, took := p.waitExit(t, 15*time.Second)
	if code == 0 {
		t.Errorf("exit code 0 although %s was still running at the timeout; output:\n%s", what, p.log())
	}
	line := lineWith(p.log(), "PB_SHUTDOWN_TIMEOUT")
	if !strings.Contains(line, what) {
		t.Errorf("no line says that %s did not stop within PB_SHUTDOWN_TIMEOUT; output:\n%s", what, p.log())
	}
	t.Logf("exited %v after SIGTERM, code %d: %s", took.Round(time.Millisecond), code, line)
}

// lineWith is the first line of log that contains s.
func lineWith(log, s string) string {
	for line := range strings.Lines(log) {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
