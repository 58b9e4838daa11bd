package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
)

func newDevCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Run the whole product locally: embedded PostgreSQL, web and workers, development settings",
		Long: `Run the whole product on this machine with nothing to configure: a private PostgreSQL started from the
local server binaries (data kept in PB_DATA_DIR/postgres across runs), a seal key file created on first run
(PB_DATA_DIR/seal.keys, mode 0600), and the web server and workers in one process on 127.0.0.1:8080.
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
			return start(cmd.Context(), cfg, roles["serve"], func(base string) {
				fmt.Fprintf(stdout, "Presence Bridge  %s\n", base)
				fmt.Fprintf(stdout, "  ready check    %s/readyz\n", base)
				fmt.Fprintf(stdout, "  metrics        %s/metrics\n", base)
				fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
			})
		},
	}
}
