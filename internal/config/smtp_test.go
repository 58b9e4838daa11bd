package config

import "testing"

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
