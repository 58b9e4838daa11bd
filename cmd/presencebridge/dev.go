package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
)

func newDevCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run the whole product locally: embedded PostgreSQL, web and workers, emulated Microsoft 365, development settings",
		Long: `Run the whole product on this machine with nothing to configure: a private PostgreSQL started from the
local server binaries (data kept in PB_DATA_DIR/postgres across runs), a seal key file created on first run
(PB_DATA_DIR/seal.keys, mode 0600), and the web server and workers in one process on 127.0.0.1:8080.

Microsoft 365 is emulated by graphsim, in the same process, on 127.0.0.1:9090 (a free port when that is
taken): one demo tenant with 25 users and 2 presence monitor accounts, not consented yet, whose sign-ins
are printed and are the same on every run. Setting PB_LOGIN_BASE_URL or PB_GRAPH_BASE_URL uses that
instead and starts no graphsim.
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
			var gs *devGraphsim
			if wantDevGraphsim() {
				// graphsim outlives the product's graceful shutdown: draining
				// workers may still call it.
				gsCtx, stopGraphsim := context.WithCancel(context.WithoutCancel(cmd.Context()))
				defer stopGraphsim()
				gs, err = startDevGraphsim(gsCtx, cfg, newLogger(cfg).With("component", "graphsim"))
				if err != nil {
					return err
				}
			}
			return start(cmd.Context(), cfg, roles["serve"], func(base string) {
				fmt.Fprintf(stdout, "Presence Bridge  %s\n", base)
				fmt.Fprintf(stdout, "  ready check    %s/readyz\n", base)
				fmt.Fprintf(stdout, "  metrics        %s/metrics\n", base)
				if gs != nil {
					gs.allowRedirects(base)
					gs.print(stdout)
				}
				fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
			})
		},
	}
}
