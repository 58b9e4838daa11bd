package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"presencebridge/internal/config"
	"presencebridge/internal/mail"
	"presencebridge/internal/store"
	"presencebridge/internal/testkit"
)

// Development keeps mail and lists it, newest first, as text.
func TestTheDevMailPageListsCapturedMail(t *testing.T) {
	st := store.New(testkit.DB(t), nil)
	capture := mail.NewCapture(st, "")
	for _, m := range []mail.Message{
		{To: []string{"admin@contoso.example"}, Subject: "First", Text: "one"},
		{To: []string{"admin@contoso.example", "it@contoso.example"}, Subject: "Monitor <m1> must sign in again", Text: "Fix: sign in at https://x/portal."},
	} {
		if err := capture.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	r := chi.NewRouter()
	devMailRoutes(st)(r)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, devMailPath, nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	second := strings.Index(body, "Monitor &lt;m1&gt; must sign in again")
	first := strings.Index(body, "First")
	if second < 0 || first < 0 || second > first {
		t.Errorf("the page does not list both mails, newest first, escaped:\n%s", body)
	}
	for _, want := range []string{"Fix: sign in at https://x/portal.", "admin@contoso.example, it@contoso.example", mail.CaptureFrom[:16]} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// Production without an SMTP server starts with mail off and says so once;
// with one, the log names the server but never the password.
func TestMailIsOffInProductionWithoutAServerAndNeverLogsThePassword(t *testing.T) {
	var logs bytes.Buffer
	a := &app{cfg: &config.Config{Env: "production"}, logger: slog.New(slog.NewTextHandler(&logs, nil))}
	m, err := a.mailer()
	if err != nil || m != nil || capturesMail(a) {
		t.Fatalf("production without PB_SMTP_HOST: mailer %v, %v", m, err)
	}
	if got := logs.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "alert mail: off, as PB_SMTP_HOST is not set") {
		t.Errorf("log: %q", got)
	}

	logs.Reset()
	a.cfg = &config.Config{Env: "production", SMTPHost: "smtp.example.com", SMTPPort: 587, SMTPUsername: "bridge",
		SMTPPassword: "hunter2-smtp", SMTPFrom: "alerts@example.com", SMTPTLS: "mandatory"}
	if m, err = a.mailer(); err != nil || m == nil || capturesMail(a) {
		t.Fatalf("with PB_SMTP_HOST: mailer %v, %v", m, err)
	}
	if got := logs.String(); !strings.Contains(got, "host=smtp.example.com") || strings.Contains(got, "hunter2") {
		t.Errorf("log: %q", got)
	}

	a.cfg = &config.Config{Env: "development"}
	if m, err = a.mailer(); err != nil || !capturesMail(a) {
		t.Fatalf("development: mailer %T, %v", m, err)
	}
	if _, ok := m.(*mail.Capture); !ok {
		t.Errorf("development without PB_SMTP_HOST mails with %T, want the capture", m)
	}
}
