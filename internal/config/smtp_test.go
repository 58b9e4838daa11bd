package config

import (
	"strings"
	"testing"
)

var validSMTP = with(validProduction, "PB_SMTP_HOST", "smtp.example.com", "PB_SMTP_USERNAME", "bridge",
	"PB_SMTP_PASSWORD", "hunter2-smtp", "PB_SMTP_FROM", "Presence Bridge <alerts@example.com>")

func TestSMTPSettingsLoadWithTheirDefaults(t *testing.T) {
	cfg, err := Load(validSMTP, false)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.MailEnabled() || cfg.SMTPPort != 587 || cfg.SMTPTLS != "mandatory" || cfg.SMTPPassword.Reveal() != "hunter2-smtp" {
		t.Errorf("smtp settings: host %q port %d tls %q", cfg.SMTPHost, cfg.SMTPPort, cfg.SMTPTLS)
	}
	cfg, err = Load(validProduction, false)
	if err != nil || cfg.MailEnabled() {
		t.Errorf("without PB_SMTP_HOST mail is off and nothing else is needed: enabled %v, %v", cfg != nil && cfg.MailEnabled(), err)
	}
}

func TestBadSMTPSettingsNameTheVariableAndTheFix(t *testing.T) {
	cases := []struct {
		name    string
		environ map[string]string
		want    string
	}{
		{"port not a number", with(validSMTP, "PB_SMTP_PORT", "smtp"), `PB_SMTP_PORT: cannot read "smtp" as int`},
		{"port out of range", with(validSMTP, "PB_SMTP_PORT", "70000"), `PB_SMTP_PORT: must be a port number 1–65535, such as 587, not 70000`},
		{"port in the host", with(validSMTP, "PB_SMTP_HOST", "smtp.example.com:587"), `PB_SMTP_HOST: must be a host name or IP address alone`},
		{"no sender", with(validSMTP, "PB_SMTP_FROM", ""), `PB_SMTP_FROM: required with PB_SMTP_HOST`},
		{"sender not an address", with(validSMTP, "PB_SMTP_FROM", "alerts at example"), `PB_SMTP_FROM: must be an e-mail address`},
		{"password without user", with(validSMTP, "PB_SMTP_USERNAME", ""), `PB_SMTP_PASSWORD: set PB_SMTP_USERNAME and PB_SMTP_PASSWORD together`},
		{"user without password", with(validSMTP, "PB_SMTP_PASSWORD", ""), `PB_SMTP_PASSWORD: set PB_SMTP_USERNAME and PB_SMTP_PASSWORD together`},
		{"unknown tls policy", with(validSMTP, "PB_SMTP_TLS", "none"), `PB_SMTP_TLS: must be mandatory or opportunistic, not "none"`},
		{"settings without a host", with(validProduction, "PB_SMTP_FROM", "alerts@example.com"), `PB_SMTP_FROM: is set but PB_SMTP_HOST is not`},
		{"password without a host", with(validProduction, "PB_SMTP_PASSWORD", "hunter2"), `PB_SMTP_PASSWORD: is set but PB_SMTP_HOST is not`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.environ, false)
			if err == nil {
				t.Fatalf("Load succeeded; want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error reveals the SMTP password: %q", err)
			}
		})
	}
}
