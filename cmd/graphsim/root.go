package main

import (
	"fmt"
	"io"
	"net/url"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// options are the command line's settings.
type options struct {
	addr            string
	baseURL         string
	tenants         int
	users           int
	monitors        int
	seed            uint64
	seedFile        string
	stateFile       string
	redirectURIs    []string
	httpNotifyHosts []string
	clientID        string
	clientSecret    string
	printSeed       bool
	logFormat       string
}

// defaultSeed is the generator seed when --seed is not given: the same
// directory (ids, UPNs, passwords) on every run. presencebridge dev uses it too.
const defaultSeed = 1

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "graphsim",
		Short: "Emulate Microsoft Graph and the Microsoft identity platform for Presence Bridge",
		Long: `graphsim emulates the parts of Microsoft Graph and the Microsoft identity platform that Presence Bridge
uses: sign-in and consent pages, the token endpoint, discovery documents and signing keys, users, presence,
subscriptions with change notifications, and a control API under /_sim/ to seed directories and inject faults.

At start it creates one app registration and a directory: --seed-tenants generated tenants
(contoso-1.example, contoso-2.example, …), each with an admin, --users-per-tenant people and
--monitors-per-tenant presence monitor accounts, all consented; the same --seed gives the same ids and
passwords. --seed-file replaces the generated tenants with a JSON seed (the body of POST /_sim/seed):

  {"app": {"clientId": "…", "clientSecret": "…", "redirectUris": ["…"]},
   "tenants": [{"id": "…", "domain": "fabrikam.example", "consented": false,
                "admin": {"upn": "admin@fabrikam.example", "password": "…"},
                "users": [{"upn": "…", "displayName": "…", "password": "…"}],
                "monitors": [{"upn": "…", "password": "…"}]}]}

The first line printed on stdout is the base URL, exactly (http://127.0.0.1:41234); what was created
follows. Identity endpoints are {base}/{tenant}/oauth2/v2.0/authorize|token, {base}/{tenant}/v2.0/adminconsent
and {base}/{tenant}/v2.0/.well-known/openid-configuration; Graph is {base}/v1.0.
SIGINT or SIGTERM stops it.

Everything is kept in memory only, unless --state names a file: then graphsim's state (tenants, accounts
and groups, the app registration, consents, the refresh tokens it issued, its signing key, presence and
subscriptions) is written there within a second of a change and when it stops (mode 0600, atomically), and
restored from there at the next start, as presencebridge dev keeps its graphsim.json. A restored state
wins over the seed: only the seed's app registration (a new secret or redirect URI) and tenants the
state does not hold are added. Sign-ins in progress, delta links, faults and limits are not kept.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return serve(cmd.Context(), o, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address host:port (port 0 picks a free port)")
	f.StringVar(&o.baseURL, "base-url", "", "URL clients reach graphsim at, used in issuers and discovery documents\n(default: http:// and the address bound; 127.0.0.1 when listening on every interface)")
	f.IntVar(&o.tenants, "seed-tenants", 1, "number of generated tenants (contoso-1.example, contoso-2.example, …)")
	f.IntVar(&o.users, "users-per-tenant", 25, "people generated in each tenant, besides the admin and the monitors")
	f.IntVar(&o.monitors, "monitors-per-tenant", 2, "presence monitor accounts generated in each tenant (pb-monitor-N@domain)")
	f.Uint64Var(&o.seed, "seed", defaultSeed, "generator seed: the same value gives the same ids, UPNs and passwords")
	f.StringVar(&o.seedFile, "seed-file", "", "JSON seed file whose tenants replace the generated ones (its app too, when it names a clientId)")
	f.StringVar(&o.stateFile, "state", "", "`file` to keep the state in across restarts: restored at start when it exists,\nsaved within a second of a change and at stop (default: memory only)")
	f.StringArrayVar(&o.redirectURIs, "redirect-uri", nil, "redirect URI added to the app registration (repeatable)")
	f.StringVar(&o.clientID, "client-id", "", "use this application (client) id for the app registration, a GUID (default: a generated one)")
	f.StringVar(&o.clientSecret, "client-secret", "", "use this client secret for the app registration (default: a generated one)")
	f.BoolVar(&o.printSeed, "print-seed", false, "after the URL line, print the whole seed as JSON (every account and password) instead of the summary")
	f.StringArrayVar(&o.httpNotifyHosts, "allow-http-notifications", nil, "host allowed to receive notifications over plain http, beside loopback\n(repeatable; e.g. the product's service name in compose)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.SortFlags = false
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%v (see graphsim --help)", err) })
	return cmd
}

func (o *options) validate() error {
	switch {
	case o.tenants < 0 || o.tenants > 1000:
		return fmt.Errorf("--seed-tenants must be 0–1000, not %d", o.tenants)
	case o.users < 0 || o.users > 1_000_000:
		return fmt.Errorf("--users-per-tenant must be 0–1,000,000, not %d", o.users)
	case o.monitors < 0 || o.monitors > 10_000:
		return fmt.Errorf("--monitors-per-tenant must be 0–10,000, not %d", o.monitors)
	case o.logFormat != "text" && o.logFormat != "json":
		return fmt.Errorf("--log-format must be text or json, not %q", o.logFormat)
	}
	if o.clientID != "" {
		if _, err := uuid.Parse(o.clientID); err != nil {
			return fmt.Errorf("--client-id must be a GUID such as 00000000-0000-0000-0000-000000000000, not %q", o.clientID)
		}
	}
	if o.baseURL != "" && !absoluteHTTP(o.baseURL) {
		return fmt.Errorf("--base-url must be an absolute http(s) URL, not %q", o.baseURL)
	}
	for _, u := range o.redirectURIs {
		if !absoluteHTTP(u) {
			return fmt.Errorf("--redirect-uri must be an absolute http(s) URL, not %q", u)
		}
	}
	return nil
}

func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https")
}
