package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

var validProduction = map[string]string{
	"PB_BASE_URL":  "https://bridge.example.com",
	"PB_SEAL_KEYS": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
}

func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(validProduction, false)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Production() || cfg.HTTPAddr != ":8080" || cfg.DBMaxConns != 20 || cfg.DataDir != ".data" ||
		cfg.IntakeDBConns != 3 || cfg.IntakeMaxRequests != 32 {
		t.Fatalf("defaults: %+v", cfg)
	}
	dev, err := Load(map[string]string{}, true)
	if err != nil {
		t.Fatalf("development needs no settings at all: %v", err)
	}
	if dev.Production() {
		t.Fatal("dev=true did not select development")
	}
}

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	validSSO := with(validProduction, "PB_STAFF_OIDC_TENANT", "vendor.example", "PB_STAFF_OIDC_CLIENT_ID", "0b1c5f0e-3d2a-4c8e-9f6a-1e2d3c4b5a69",
		"PB_STAFF_OIDC_CLIENT_SECRET", "hunter2")
	cases := []struct {
		name    string
		environ map[string]string
		want    string
	}{
		{"unknown env", with(validProduction, "PB_ENV", "staging"), `PB_ENV: must be production or development, not "staging"`},
		{"malformed database url", with(validProduction, "PB_DATABASE_URL", "postgres://u:hunter2@host:notaport/db"), "PB_DATABASE_URL: not a valid PostgreSQL URL"},
		{"missing key in production", with(validProduction, "PB_SEAL_KEYS", ""), "PB_SEAL_KEYS: a seal key is required in production"},
		{"missing base url in production", with(validProduction, "PB_BASE_URL", ""), "PB_BASE_URL: required in production"},
		{"http base url in production", with(validProduction, "PB_BASE_URL", "http://x.example"), "PB_BASE_URL: must use https in production"},
		{"not a number", with(validProduction, "PB_DB_MAX_CONNS", "lots"), `PB_DB_MAX_CONNS: cannot read "lots" as int32`},
		{"intake pool too small", with(validProduction, "PB_INTAKE_DB_CONNS", "1"), `PB_INTAKE_DB_CONNS: must be 2–32 (one looks subscriptions up, the others commit), not 1`},
		{"no intake requests", with(validProduction, "PB_INTAKE_MAX_REQUESTS", "0"), `PB_INTAKE_MAX_REQUESTS: must be 1–1024 POSTs at once, not 0`},
		{"bad duration", with(validProduction, "PB_SHUTDOWN_TIMEOUT", "soon"), `PB_SHUTDOWN_TIMEOUT: cannot read "soon"`},
		{"bad log level", with(validProduction, "PB_LOG_LEVEL", "loud"), `PB_LOG_LEVEL: cannot read "loud"`},
		{"bad log format", with(validProduction, "PB_LOG_FORMAT", "xml"), `PB_LOG_FORMAT: must be json or text`},
		{"no port", with(validProduction, "PB_HTTP_ADDR", "localhost"), `PB_HTTP_ADDR: must be host:port`},
		{"admin listener on the public one", with(validProduction, "PB_ADMIN_ADDR", ":8080"), `PB_ADMIN_ADDR: must be host:port or :port other than PB_HTTP_ADDR`},
		{"admin listener without a port", with(validProduction, "PB_ADMIN_ADDR", "localhost"), `PB_ADMIN_ADDR: must be host:port`},
		{"retention too short", with(validProduction, "PB_EVENT_RETENTION", "10m"), `PB_EVENT_RETENTION: must be at least 1h`},
		{"headroom too large", with(validProduction, "PB_MONITOR_HEADROOM", "650"), `PB_MONITOR_HEADROOM: must be 0–600`},
		{"too many tenant labels", with(validProduction, "PB_METRICS_TENANT_LABELS", "500"), `PB_METRICS_TENANT_LABELS: must be 0–100 tenants, not 500`},
		{"engine interval too long", with(validProduction, "PB_ENGINE_INTERVAL", "20m"), `PB_ENGINE_INTERVAL: must be 1s–5m`},
		{"repair interval too short", with(validProduction, "PB_REPAIR_INTERVAL", "5s"), `PB_REPAIR_INTERVAL: must be at least 1m`},
		{"relative graph url", with(validProduction, "PB_GRAPH_BASE_URL", "graph"), `PB_GRAPH_BASE_URL: must be an absolute http(s) URL`},
		{"client id not a GUID", with(with(validProduction, "PB_MS_CLIENT_ID", "presence-bridge"), "PB_MS_CLIENT_SECRET", "x"), `PB_MS_CLIENT_ID: must be the app registration's application (client) id`},
		{"client id without secret", with(validProduction, "PB_MS_CLIENT_ID", "0b1c5f0e-3d2a-4c8e-9f6a-1e2d3c4b5a69"), `PB_MS_CLIENT_SECRET: set PB_MS_CLIENT_ID and PB_MS_CLIENT_SECRET together`},
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
		{"staff sign-on at every organization", with(validSSO, "PB_STAFF_OIDC_TENANT", "organizations"), `PB_STAFF_OIDC_TENANT: must be the vendor's own tenant`},
		{"staff sign-on at no domain", with(validSSO, "PB_STAFF_OIDC_TENANT", "vendor"), `PB_STAFF_OIDC_TENANT: must be the vendor's own tenant`},
		{"staff sign-on without a registration", with(validProduction, "PB_STAFF_OIDC_TENANT", "vendor.example"), `PB_STAFF_OIDC_TENANT: needs an app registration to sign in to`},
		{"staff registration without a tenant", with(validSSO, "PB_STAFF_OIDC_TENANT", ""), `PB_STAFF_OIDC_TENANT: required with PB_STAFF_OIDC_CLIENT_ID`},
		{"staff client id not a GUID", with(validSSO, "PB_STAFF_OIDC_CLIENT_ID", "console"), `PB_STAFF_OIDC_CLIENT_ID: must be the app registration's application (client) id`},
		{"staff client id without secret", with(validSSO, "PB_STAFF_OIDC_CLIENT_SECRET", ""), `PB_STAFF_OIDC_CLIENT_SECRET: set PB_STAFF_OIDC_CLIENT_ID and PB_STAFF_OIDC_CLIENT_SECRET together`},
		{"staff sign-on on an admin listener without its URL", with(validSSO, "PB_ADMIN_ADDR", "127.0.0.1:9091"), `PB_ADMIN_BASE_URL: required with PB_ADMIN_ADDR and PB_STAFF_OIDC_TENANT`},
		{"admin URL in clear off loopback", with(validSSO, "PB_ADMIN_ADDR", ":9091", "PB_ADMIN_BASE_URL", "http://console.vendor.example"), `PB_ADMIN_BASE_URL: must use https in production`},
		{"admin URL not a URL", with(validSSO, "PB_ADMIN_ADDR", ":9091", "PB_ADMIN_BASE_URL", "console.vendor.example"), `PB_ADMIN_BASE_URL: must be an absolute http(s) URL`},
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
				t.Fatalf("error reveals a password: %q", err)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	env := with(validProduction, "PB_DATABASE_URL", "postgres://u:hunter2@db/pb")
	env = with(with(env, "PB_MS_CLIENT_ID", "0b1c5f0e-3d2a-4c8e-9f6a-1e2d3c4b5a69"), "PB_MS_CLIENT_SECRET", "hunter2-client-secret")
	cfg, err := Load(env, false)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "db", cfg.DatabaseURL)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.SealKeys), logs.String()} {
		for _, secret := range []string{"hunter2", "AAAAAAAAAAAA"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed in %s", secret, out)
			}
		}
	}
	if cfg.DatabaseURL.Reveal() != "postgres://u:hunter2@db/pb" {
		t.Fatal("Reveal lost the value")
	}
}

func TestVarsDescribeEveryField(t *testing.T) {
	for _, v := range Vars() {
		if !strings.HasPrefix(v.Name, "PB_") || v.Help == "" {
			t.Errorf("variable %+v lacks a PB_ name or help text", v)
		}
	}
}

func TestStaffSingleSignOnTakesItsOwnRegistrationOrOurs(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"its own registration": with(validProduction, "PB_STAFF_OIDC_TENANT", "vendor.onmicrosoft.com",
			"PB_STAFF_OIDC_CLIENT_ID", "0b1c5f0e-3d2a-4c8e-9f6a-1e2d3c4b5a69", "PB_STAFF_OIDC_CLIENT_SECRET", "s"),
		"ours": with(validProduction, "PB_STAFF_OIDC_TENANT", "5f8e2f4a-1b2c-4d3e-8f9a-0b1c2d3e4f5a",
			"PB_MS_CLIENT_ID", "0b1c5f0e-3d2a-4c8e-9f6a-1e2d3c4b5a69", "PB_MS_CLIENT_SECRET", "s"),
	} {
		if _, err := Load(env, false); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// With an admin listener the console, and so its sign-in callback, is
// served there alone: Microsoft must send staff back to its URL.
func TestTheConsolesURLIsTheAdminListenersWhenThereIsOne(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no admin listener", validProduction, "https://pb.example"},
		{"its URL", with(validProduction, "PB_ADMIN_ADDR", ":9091", "PB_ADMIN_BASE_URL", "https://console.vendor.example/"), "https://console.vendor.example"},
		{"loopback in clear", with(validProduction, "PB_ADMIN_ADDR", "127.0.0.1:9091", "PB_ADMIN_BASE_URL", "http://127.0.0.1:9091"), "http://127.0.0.1:9091"},
		{"development's default", map[string]string{"PB_ENV": "development", "PB_ADMIN_ADDR": ":9091"}, "http://127.0.0.1:9091"},
	} {
		cfg, err := Load(c.env, false)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := cfg.ConsoleBaseURL("https://pb.example"); got != c.want {
			t.Errorf("%s: the console is at %q, want %q", c.name, got, c.want)
		}
	}
}
