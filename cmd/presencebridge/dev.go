package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
)

func newDevCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run the whole product locally: embedded PostgreSQL, web and workers, emulated Microsoft 365, a demo tenant ready to call",
		Long: `Run the whole product on this machine with nothing to configure: a private PostgreSQL started from the
local server binaries (data kept in PB_DATA_DIR/postgres across runs), a seal key file created on first run
(PB_DATA_DIR/seal.keys, mode 0600), and the web server and workers in one process on 127.0.0.1:8080. The
engine passes over the tenants every 5 seconds unless PB_ENGINE_INTERVAL says otherwise.

Microsoft 365 is emulated by graphsim, in the same process, on 127.0.0.1:9090 (a free port when that is
taken), with two tenants of 25 users and 2 presence monitor accounts each, the same on every run; its state
(consents, sign-ins, presence, subscriptions) is kept in PB_DATA_DIR/graphsim.json. The first tenant is
onboarded as its administrator would do it (consent, monitors signed in, users monitored, a webhook to a
receiver dev runs on 127.0.0.1:9091 and prints each event of), and an API key with every scope is printed
(kept in PB_DATA_DIR/dev-demo.json while it works), with an invitation link for the second tenant.
Setting PB_LOGIN_BASE_URL or PB_GRAPH_BASE_URL uses that instead and starts no graphsim and no demo.
Alert mail to tenants' contacts is kept in the database instead of sent, and listed at /_dev/mail, unless
PB_SMTP_HOST names a server.
The first line printed is the product's URL.` + envHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.FromOS(true)
			if err != nil {
				return err
			}
			if _, set := os.LookupEnv("PB_HTTP_ADDR"); !set {
				cfg.HTTPAddr = "127.0.0.1:8080" // a laptop demo need not listen on every interface
			}
			if _, set := os.LookupEnv("PB_ENGINE_INTERVAL"); !set {
				// A demo's new tenant, monitor or user is picked up in
				// seconds, not at the next minute.
				cfg.EngineInterval = 5 * time.Second
			}
			if !wantDevGraphsim() {
				return start(cmd.Context(), cfg, roles["serve"], func(base string) {
					printProduct(stdout, base, cfg)
					fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
				})
			}
			logger := newLogger(cfg).With("role", "dev")
			gs, err := startDevGraphsim(cfg, logger.With("component", "graphsim"))
			if err != nil {
				return err
			}
			defer gs.stop()
			rcv, err := startDevReceiver(cmd.Context(), stdout)
			if err != nil {
				return err
			}
			return start(cmd.Context(), cfg, roles["serve"], func(base string) {
				printProduct(stdout, base, cfg)
				gs.allowRedirects(base, cfg.ConsoleBaseURL(base))
				gs.print(stdout)
				d, err := prepareDemo(cmd.Context(), cfg, base, gs, rcv.url)
				if err != nil {
					logger.Error("the demo tenant was not prepared", "err", err)
					fmt.Fprintf(stdout, "Demo tenant      not prepared: %v\n", err)
				} else {
					d.print(stdout, base, gs)
				}
				fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
				if err == nil {
					if err := rcv.verifyWith(d.secret); err != nil {
						logger.Error("dev's webhook receiver cannot check signatures", "err", err)
					}
				}
			})
		},
	}
}

// printProduct prints the product's URL (the first line) and its own
// addresses.
func printProduct(w io.Writer, base string, cfg *config.Config) {
	fmt.Fprintf(w, "Presence Bridge  %s\n", base)
	fmt.Fprintf(w, "  ready check    %s/readyz\n", base)
	fmt.Fprintf(w, "  metrics        %s/metrics\n", base)
	fmt.Fprintf(w, "  API reference  %s/api/v1/docs\n", base)
	if !cfg.MailEnabled() {
		fmt.Fprintf(w, "  captured mail  %s%s  (alert mail to tenants' contacts, kept instead of sent)\n", base, devMailPath)
	}
}
