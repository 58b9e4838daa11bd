package mail

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const testPassword = "hunter2-smtp-password"

func smtpFor(t *testing.T, s *smtpServer, password, policy string) *SMTP {
	t.Helper()
	m, err := NewSMTP(SMTPOptions{Host: "127.0.0.1", Port: s.port(), Username: "bridge", Password: password,
		From: "Presence Bridge <alerts@bridge.example>", TLS: policy,
		TLSConfig: &tls.Config{RootCAs: s.roots, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var testMessage = Message{To: []string{"admin@contoso.example", "ops@contoso.example"},
	Subject: "Presence monitor needs to sign in again", Text: "Presence monitor m1@contoso.example must be authorized again.\nFix: sign in."}

func TestSMTPSubmitsOverSTARTTLSWithTheAccountsPassword(t *testing.T) {
	srv := newSMTPServer(t, "bridge", testPassword, true)
	m := smtpFor(t, srv, testPassword, TLSMandatory)
	if err := m.Send(t.Context(), testMessage); err != nil {
		t.Fatal(err)
	}
	got := srv.mails()
	if len(got) != 1 {
		t.Fatalf("the server received %d mails, want 1", len(got))
	}
	r := got[0]
	if !r.tls || r.authed != "bridge" {
		t.Errorf("submitted with tls %v as %q, want over STARTTLS as bridge", r.tls, r.authed)
	}
	if r.from != "alerts@bridge.example" || strings.Join(r.to, ",") != "admin@contoso.example,ops@contoso.example" {
		t.Errorf("envelope from %q to %q", r.from, r.to)
	}
	for _, want := range []string{"Subject: Presence monitor needs to sign in again", `From: "Presence Bridge" <alerts@bridge.example>`,
		"To: <admin@contoso.example>, <ops@contoso.example>", "Presence monitor m1@contoso.example must be authorized again.", "Fix: sign in."} {
		if !strings.Contains(r.data, want) {
			t.Errorf("the message lacks %q:\n%s", want, r.data)
		}
	}
}

func TestSMTPNeverShowsThePassword(t *testing.T) {
	srv := newSMTPServer(t, "bridge", "the-right-one", true)
	m := smtpFor(t, srv, testPassword, TLSMandatory)
	err := m.Send(t.Context(), testMessage)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	srv.hungUp(t)
	if len(srv.logins()) == 0 || !strings.HasSuffix(srv.logins()[0], ":"+testPassword) {
		t.Fatalf("the password was not offered to the server: %q", srv.logins())
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Error("alert mail failed", "err", err, "mailer", m)
	for _, out := range []string{err.Error(), logs.String(), fmt.Sprintf("%v %+v %#v", m, m, m)} {
		if strings.Contains(out, testPassword) {
			t.Errorf("the password shows in %q", out)
		}
	}
}

func TestMandatoryTLSSendsNothingToAServerWithoutSTARTTLS(t *testing.T) {
	srv := newSMTPServer(t, "bridge", testPassword, false)
	m := smtpFor(t, srv, testPassword, TLSMandatory)
	if err := m.Send(t.Context(), testMessage); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("send to a server without STARTTLS: %v, want a refusal naming STARTTLS", err)
	}
	srv.hungUp(t)
	if len(srv.mails()) != 0 || len(srv.logins()) != 0 {
		t.Errorf("the server received %d mails and %d logins", len(srv.mails()), len(srv.logins()))
	}
}

func TestOpportunisticTLSNeverSendsThePasswordInClear(t *testing.T) {
	srv := newSMTPServer(t, "bridge", testPassword, false)
	m := smtpFor(t, srv, testPassword, TLSOpportunistic)
	if err := m.Send(t.Context(), testMessage); err == nil {
		t.Error("a mail went without authentication over a connection in clear")
	}
	srv.hungUp(t)
	if len(srv.logins()) != 0 {
		t.Errorf("the password went in clear: %q", srv.logins())
	}
}

func TestOpportunisticTLSSendsWithoutAuthenticationInClear(t *testing.T) {
	srv := newSMTPServer(t, "", "", false)
	m, err := NewSMTP(SMTPOptions{Host: "127.0.0.1", Port: srv.port(), From: "alerts@bridge.example", TLS: TLSOpportunistic})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(t.Context(), testMessage); err != nil {
		t.Fatal(err)
	}
	if got := srv.mails(); len(got) != 1 || got[0].tls {
		t.Errorf("received %+v, want one mail in clear", got)
	}
}
