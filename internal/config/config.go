// Package config reads Presence Bridge's settings from PB_* environment
// variables and validates them at start, with messages that name the
// variable and what is wrong. Secret values are never printed.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/jackc/pgx/v5/pgconn"

	"presencebridge/internal/netaddr"
)

// Prefix starts every variable's name.
const Prefix = "PB_"

// Secret is a string that never prints: fmt, %v and slog show "[redacted]".
type Secret string

func (s Secret) String() string               { return redact(s) }
func (s Secret) GoString() string             { return redact(s) }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redact(s)) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redact(s)), nil }

// Reveal returns the value itself, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }

func redact(s Secret) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Config is every setting. The `help` tag is printed by --help.
type Config struct {
	Env         string `env:"ENV" envDefault:"production" help:"production or development: development relaxes checks, logs text and allows loopback webhook targets"`
	DatabaseURL Secret `env:"DATABASE_URL" help:"PostgreSQL URL (postgres://user:pass@host/db); empty: start a private PostgreSQL from the local binaries in PB_DATA_DIR/postgres"`
	DataDir     string `env:"DATA_DIR" envDefault:".data" help:"folder for local state: the embedded PostgreSQL data and, in development, the seal key file"`
	DBMaxConns  int32  `env:"DB_MAX_CONNS" envDefault:"20" help:"connections in this process's pool (web + workers); budget across all instances against max_connections"`
	// The web role's intake of Graph's notifications, whose answers every
	// tenant's notifications depend on (web/graphhook).
	IntakeDBConns     int32 `env:"INTAKE_DB_CONNS" envDefault:"3" help:"connections a web process keeps for Graph's notifications beside PB_DB_MAX_CONNS (one looks subscriptions up, the others commit), so that nothing else in the process can hold Graph's answers up (2–32)"`
	IntakeMaxRequests int   `env:"INTAKE_MAX_REQUESTS" envDefault:"32" help:"notification POSTs a web process serves at once; more are answered 503 with Retry-After, and Graph sends them again (1–1024)"`

	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080" help:"address the web server listens on (host:port; port 0 picks a free one)"`
	BaseURL  string `env:"BASE_URL" help:"public URL of this deployment, used in redirect and notification URLs (required in production, must be https)"`
	// AdminAddr keeps what only the vendor should reach off the public
	// listener: set, a second listener alone serves the console and /metrics.
	// Production serves /metrics nowhere else.
	AdminAddr string `env:"ADMIN_ADDR" help:"address of a second listener that alone serves the staff console (/console) and /metrics, kept off the public one (host:port such as 127.0.0.1:9091); empty: PB_HTTP_ADDR serves the console, and /metrics in development only (production serves none)"`
	// AdminBaseURL is where staff reach that listener: Microsoft sends a
	// staff sign-in back to it, since PB_BASE_URL's /console answers 404.
	AdminBaseURL string `env:"ADMIN_BASE_URL" help:"URL at which staff reach PB_ADMIN_ADDR's listener (such as https://console.vendor.example or http://127.0.0.1:9091), for the console's single sign-on redirect URI PB_ADMIN_BASE_URL/console/callback; required with PB_ADMIN_ADDR and PB_STAFF_OIDC_TENANT in production; development defaults to http://PB_ADMIN_ADDR"`

	SealKeys      Secret `env:"SEAL_KEYS" help:"seal keys as id:base64(32 bytes), comma or newline separated (one of PB_SEAL_KEYS or PB_SEAL_KEYS_FILE is required in production)"`
	SealKeysFile  string `env:"SEAL_KEYS_FILE" help:"file holding seal keys, one id:base64 per line, mode 0600 (development creates one in PB_DATA_DIR)"`
	SealActiveKey string `env:"SEAL_ACTIVE_KEY" help:"id of the key that seals new values (default: the last key listed)"`

	LogFormat string     `env:"LOG_FORMAT" help:"json or text (default: json in production, text in development)"`
	LogLevel  slog.Level `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`

	LoginBaseURL string `env:"LOGIN_BASE_URL" envDefault:"https://login.microsoftonline.com" help:"Microsoft identity platform base URL: a national cloud's, or graphsim's (https only in production)"`
	GraphBaseURL string `env:"GRAPH_BASE_URL" envDefault:"https://graph.microsoft.com" help:"Microsoft Graph base URL: a national cloud's, or graphsim's (https only in production)"`
	ClientID     string `env:"MS_CLIENT_ID" help:"application (client) id of Presence Bridge's multi-tenant Microsoft Entra app registration (needed to onboard tenants)"`
	ClientSecret Secret `env:"MS_CLIENT_SECRET" help:"client secret of that app registration"`

	// Single sign-on of vendor staff to the console (web/console) with the
	// vendor's own Microsoft tenant.
	StaffOIDCTenant       string `env:"STAFF_OIDC_TENANT" help:"the vendor's own Microsoft Entra tenant, a verified domain or its id: the console's sign-in then offers \"Sign in with Microsoft\" to staff whose account has their work address (it makes no account); empty: passwords only"`
	StaffOIDCClientID     string `env:"STAFF_OIDC_CLIENT_ID" help:"application (client) id of the app registration staff sign in to, with redirect URI PB_BASE_URL/console/callback; empty: PB_MS_CLIENT_ID's, which then needs that redirect URI"`
	StaffOIDCClientSecret Secret `env:"STAFF_OIDC_CLIENT_SECRET" help:"client secret of that app registration"`

	MonitorHeadroom int           `env:"MONITOR_HEADROOM" envDefault:"0" help:"users per monitor kept free below Graph's 650 (0–600): room for a tenant to grow before it needs another monitor account"`
	EngineInterval  time.Duration `env:"ENGINE_INTERVAL" envDefault:"1m" help:"how often a worker passes over every tenant (renewals, token upkeep, lifecycle events, re-reads); a killed worker's tenants are taken by the others' next pass"`
	RepairInterval  time.Duration `env:"REPAIR_INTERVAL" envDefault:"10m" help:"how often every monitored user's presence is re-read to repair what notifications missed"`

	APIRateLimit int `env:"API_RATE_LIMIT" envDefault:"200" help:"requests per second one API key may make to the tenant API (per instance); more are answered 429 with Retry-After"`
	// The address is the connection's: no header is trusted.
	SignInRateLimit int `env:"SIGNIN_RATE_LIMIT" envDefault:"60" help:"sign-in starts and identity-platform callbacks one client address may make a minute, on the portal and on onboarding each (per instance); more are answered 429 with Retry-After. The address is the connection's: behind a proxy that ends HTTP all its clients share one, so raise it there"`

	MetricsTenantLabels int `env:"METRICS_TENANT_LABELS" envDefault:"0" help:"how many of the busiest tenants get a tenant label on the /metrics activity series (presencebridge_tenant_*, presencebridge_delivery_latency_seconds), each adding about 40 series; the rest are summed as tenant=\"other\"; 0: no tenant label (0–100)"`

	EventRetention time.Duration `env:"EVENT_RETENTION" envDefault:"720h" help:"how long presence history is kept (events still waiting to be delivered or replayed — pending or dead deliveries — are kept whatever their age)"`

	SMTPHost     string `env:"SMTP_HOST" help:"SMTP server that alert mail to tenants' contacts goes through; empty: no mail in production (alerts still show in the portal and the API), captured in the database in development"`
	SMTPPort     int    `env:"SMTP_PORT" envDefault:"587" help:"SMTP server port (587 for submission with STARTTLS)"`
	SMTPUsername string `env:"SMTP_USERNAME" help:"SMTP user name, when the server wants authentication"`
	SMTPPassword Secret `env:"SMTP_PASSWORD" help:"SMTP password of that user"`
	SMTPFrom     string `env:"SMTP_FROM" help:"sender address of alert mail, such as Presence Bridge <alerts@example.com> (required with PB_SMTP_HOST)"`
	SMTPTLS      string `env:"SMTP_TLS" envDefault:"mandatory" help:"mandatory (STARTTLS or no mail) or opportunistic (STARTTLS when the server offers it; a password is still never sent in clear)"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s" help:"bound on the whole shutdown after SIGTERM: requests drain, then workers and jobs stop; past it the process exits 1 naming what did not stop"`
}

// Production reports whether the strict production checks apply.
func (c *Config) Production() bool { return c.Env == "production" }

// Load reads the environment (as os.Environ would give it) and validates.
// Development is forced when dev is true (the `dev` command).
func Load(environ map[string]string, dev bool) (*Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: Prefix, Environment: environ})
	if err != nil {
		return nil, explainParse(err, environ)
	}
	if dev {
		cfg.Env = "development"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// FromOS loads from the process environment.
func FromOS(dev bool) (*Config, error) { return Load(env.ToMap(os.Environ()), dev) }

func (c *Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(Prefix+name+": "+format, args...))
	}
	switch c.Env {
	case "production", "development":
	default:
		bad("ENV", "must be production or development, not %q", c.Env)
	}
	if c.DatabaseURL != "" {
		if _, err := pgconn.ParseConfig(c.DatabaseURL.Reveal()); err != nil {
			bad("DATABASE_URL", "not a valid PostgreSQL URL or connection string (%s)", parseReason(err))
		}
	}
	if c.DBMaxConns < 2 {
		bad("DB_MAX_CONNS", "must be at least 2, not %d", c.DBMaxConns)
	}
	if c.IntakeDBConns < 2 || c.IntakeDBConns > 32 {
		bad("INTAKE_DB_CONNS", "must be 2–32 (one looks subscriptions up, the others commit), not %d", c.IntakeDBConns)
	}
	if c.IntakeMaxRequests < 1 || c.IntakeMaxRequests > 1024 {
		bad("INTAKE_MAX_REQUESTS", "must be 1–1024 POSTs at once, not %d", c.IntakeMaxRequests)
	}
	if c.APIRateLimit < 1 {
		bad("API_RATE_LIMIT", "must be at least 1 request per second, not %d", c.APIRateLimit)
	}
	if c.SignInRateLimit < 1 {
		bad("SIGNIN_RATE_LIMIT", "must be at least 1 request a minute, not %d", c.SignInRateLimit)
	}
	if c.HTTPAddr == "" || !strings.Contains(c.HTTPAddr, ":") {
		bad("HTTP_ADDR", "must be host:port or :port, not %q", c.HTTPAddr)
	}
	if c.AdminAddr != "" && (!strings.Contains(c.AdminAddr, ":") || c.AdminAddr == c.HTTPAddr) {
		bad("ADMIN_ADDR", "must be host:port or :port other than PB_HTTP_ADDR, not %q", c.AdminAddr)
	}
	if c.Production() {
		if c.BaseURL == "" {
			bad("BASE_URL", "required in production (the public https URL of this deployment)")
		}
		if c.SealKeys == "" && c.SealKeysFile == "" {
			bad("SEAL_KEYS", "a seal key is required in production: set PB_SEAL_KEYS or PB_SEAL_KEYS_FILE (generate one with `presencebridge keys generate`)")
		}
	}
	if c.BaseURL != "" {
		if err := checkURL(c.BaseURL, c.Production()); err != nil {
			bad("BASE_URL", "%v", err)
		}
	}
	if c.AdminBaseURL != "" {
		// Microsoft accepts http redirect URIs for loopback hosts only.
		u, _ := url.Parse(c.AdminBaseURL)
		if err := checkURL(c.AdminBaseURL, c.Production() && (u == nil || !netaddr.Loopback(u.Hostname()))); err != nil {
			bad("ADMIN_BASE_URL", "%v", err)
		}
	}
	// Secrets, codes and tokens travel there: never in clear in production,
	// not even to loopback (graphsim is development's).
	for name, v := range map[string]string{"LOGIN_BASE_URL": c.LoginBaseURL, "GRAPH_BASE_URL": c.GraphBaseURL} {
		if err := checkURL(v, c.Production()); err != nil {
			bad(name, "%v", err)
		}
	}
	if c.ClientID != "" && !isGUID(c.ClientID) {
		bad("MS_CLIENT_ID", "must be the app registration's application (client) id, a GUID such as 00000000-0000-0000-0000-000000000000")
	}
	if (c.ClientID == "") != (c.ClientSecret == "") {
		bad("MS_CLIENT_SECRET", "set PB_MS_CLIENT_ID and PB_MS_CLIENT_SECRET together")
	}
	c.validateStaffSSO(bad)
	switch c.LogFormat {
	case "", "json", "text":
	default:
		bad("LOG_FORMAT", "must be json or text, not %q", c.LogFormat)
	}
	if c.MonitorHeadroom < 0 || c.MonitorHeadroom > 600 {
		bad("MONITOR_HEADROOM", "must be 0–600 (users per monitor kept free below Graph's 650)")
	}
	if c.EngineInterval < time.Second || c.EngineInterval > 5*time.Minute {
		bad("ENGINE_INTERVAL", "must be 1s–5m, such as 1m (subscriptions renew 10–20 minutes before they lapse)")
	}
	if c.RepairInterval < time.Minute {
		bad("REPAIR_INTERVAL", "must be at least 1m, such as 10m")
	}
	if c.MetricsTenantLabels < 0 || c.MetricsTenantLabels > 100 {
		bad("METRICS_TENANT_LABELS", "must be 0–100 tenants, not %d", c.MetricsTenantLabels)
	}
	if c.EventRetention < time.Hour {
		bad("EVENT_RETENTION", "must be at least 1h, such as 720h (30 days)")
	}
	errs = append(errs, c.validateSMTP()...)
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be a positive duration such as 20s")
	}
	return errors.Join(errs...)
}

// MailEnabled reports whether alert mail goes through an SMTP server.
func (c *Config) MailEnabled() bool { return c.SMTPHost != "" }

func (c *Config) validateSMTP() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(Prefix+name+": "+format, args...))
	}
	if c.SMTPHost == "" {
		for name, v := range map[string]string{"SMTP_USERNAME": c.SMTPUsername, "SMTP_PASSWORD": c.SMTPPassword.Reveal(), "SMTP_FROM": c.SMTPFrom} {
			if v != "" {
				bad(name, "is set but PB_SMTP_HOST is not: set the SMTP server's host name too, or unset it")
			}
		}
		return errs
	}
	if strings.ContainsAny(c.SMTPHost, ":/ ") {
		bad("SMTP_HOST", "must be a host name or IP address alone, not %q (the port goes in PB_SMTP_PORT)", c.SMTPHost)
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		bad("SMTP_PORT", "must be a port number 1–65535, such as 587, not %d", c.SMTPPort)
	}
	if (c.SMTPUsername == "") != (c.SMTPPassword == "") {
		bad("SMTP_PASSWORD", "set PB_SMTP_USERNAME and PB_SMTP_PASSWORD together (or neither, for a server that wants no authentication)")
	}
	if c.SMTPFrom == "" {
		bad("SMTP_FROM", "required with PB_SMTP_HOST: the sender address of alert mail, such as Presence Bridge <alerts@example.com>")
	} else if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
		bad("SMTP_FROM", "must be an e-mail address such as alerts@example.com or Presence Bridge <alerts@example.com>, not %q", c.SMTPFrom)
	}
	switch c.SMTPTLS {
	case "mandatory", "opportunistic":
	default:
		bad("SMTP_TLS", "must be mandatory or opportunistic, not %q", c.SMTPTLS)
	}
	return errs
}

// ConsoleBaseURL is the URL staff reach the console at: PB_ADMIN_BASE_URL
// when an admin listener serves it (in development http://PB_ADMIN_ADDR
// unless set), else base, the public one.
func (c *Config) ConsoleBaseURL(base string) string {
	switch {
	case c.AdminAddr == "":
		return base
	case c.AdminBaseURL != "":
		return strings.TrimSuffix(c.AdminBaseURL, "/")
	}
	host, port, err := net.SplitHostPort(c.AdminAddr)
	if err != nil {
		return "http://" + c.AdminAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func checkURL(raw string, wantHTTPS bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("must be an absolute http(s) URL, not %q", raw)
	}
	if wantHTTPS && u.Scheme != "https" {
		return fmt.Errorf("must use https in production, not %q", raw)
	}
	return nil
}

// parseReason keeps the reason of a connection-string error without the
// string itself, which may hold a password.
func parseReason(err error) string {
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) && pce.Unwrap() != nil {
		err = pce.Unwrap()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// explainParse turns caarlos0/env's errors into lines naming the variable.
func explainParse(err error, environ map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			v := varFor(pe.Name)
			shown := "its value"
			if !v.Secret {
				shown = fmt.Sprintf("%q", environ[v.Name])
			}
			out = append(out, fmt.Errorf("%s: cannot read %s as %s", v.Name, shown, pe.Type))
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// Var describes one environment variable, for --help and error messages.
type Var struct {
	Name, Default, Help string
	Secret              bool
	field               string
}

// Vars lists every variable Config reads, in declaration order.
func Vars() []Var {
	t := reflect.TypeFor[Config]()
	vars := make([]Var, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		vars = append(vars, Var{
			Name: Prefix + name, Default: f.Tag.Get("envDefault"), Help: f.Tag.Get("help"),
			Secret: f.Type == reflect.TypeFor[Secret](), field: f.Name,
		})
	}
	return vars
}

func varFor(field string) Var {
	for _, v := range Vars() {
		if v.field == field {
			return v
		}
	}
	return Var{Name: field}
}

// ErrStaffSSOWithoutApp is single sign-on for staff without an app
// registration to sign in to.
var ErrStaffSSOWithoutApp = errors.New("needs an app registration to sign in to: set PB_STAFF_OIDC_CLIENT_ID and PB_STAFF_OIDC_CLIENT_SECRET, or PB_MS_CLIENT_ID")

// validateStaffSSO checks the console's single sign-on: one tenant (the
// multi-tenant authorities would let any organization's accounts reach
// the console's check) and an app registration to sign in to.
func (c *Config) validateStaffSSO(bad func(name, format string, args ...any)) {
	switch t := strings.ToLower(c.StaffOIDCTenant); {
	case t == "":
		if c.StaffOIDCClientID != "" || c.StaffOIDCClientSecret != "" {
			bad("STAFF_OIDC_TENANT", "required with PB_STAFF_OIDC_CLIENT_ID and PB_STAFF_OIDC_CLIENT_SECRET: the vendor's Microsoft tenant")
		}
		return
	case c.AdminAddr != "" && c.AdminBaseURL == "" && c.Production():
		bad("ADMIN_BASE_URL", "required with PB_ADMIN_ADDR and PB_STAFF_OIDC_TENANT: the console is served only on the admin listener, so Microsoft must send staff back there (PB_BASE_URL/console answers 404)")
	case t == "common" || t == "organizations" || t == "consumers" || strings.ContainsAny(t, "/?#@ \t") || !strings.Contains(t, ".") && !isGUID(t):
		bad("STAFF_OIDC_TENANT", "must be the vendor's own tenant, a verified domain such as vendor.onmicrosoft.com or its id, not %q", c.StaffOIDCTenant)
	case c.StaffOIDCClientID == "" && c.ClientID == "" && c.Production():
		// In development the dev command's graphsim may give PB_MS_CLIENT_ID
		// its registration after this: the web role checks at start then
		// (cmd/presencebridge's consoleSSO, ErrStaffSSOWithoutApp).
		bad("STAFF_OIDC_TENANT", "%v", ErrStaffSSOWithoutApp)
	}
	if c.StaffOIDCClientID != "" && !isGUID(c.StaffOIDCClientID) {
		bad("STAFF_OIDC_CLIENT_ID", "must be the app registration's application (client) id, a GUID such as 00000000-0000-0000-0000-000000000000")
	}
	if (c.StaffOIDCClientID == "") != (c.StaffOIDCClientSecret == "") {
		bad("STAFF_OIDC_CLIENT_SECRET", "set PB_STAFF_OIDC_CLIENT_ID and PB_STAFF_OIDC_CLIENT_SECRET together")
	}
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}
