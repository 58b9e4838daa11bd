package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
	"presencebridge/internal/store/schema"
)

func newMigrateCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, revert or show database migrations (ours and River's)",
		Long: `Apply, revert or show database migrations: Presence Bridge's own schema and River's job-queue schema.
Several instances may migrate at once; they take turns under one advisory lock.` + envHelp(),
	}
	withDB := func(run func(cmd *cobra.Command, a *app, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			cfg, err := config.FromOS(false)
			if err != nil {
				return err
			}
			a, err := openDB(cmd.Context(), cfg, newLogger(cfg).With("role", "migrate"), "migrate", sharedServer)
			if err != nil {
				return err
			}
			defer a.Close()
			return run(cmd, a, args)
		}
	}
	status := func(cmd *cobra.Command, a *app) error {
		st, err := schema.Read(cmd.Context(), a.pool)
		if err != nil {
			return err
		}
		state := "up to date"
		if !st.AtHead() {
			state = "NOT up to date"
		}
		_, err = fmt.Fprintf(stdout, "%s: %s\n", st, state)
		return err
	}

	up := &cobra.Command{
		Use: "up", Short: "Apply every pending migration", Args: cobra.NoArgs,
		RunE: withDB(func(cmd *cobra.Command, a *app, _ []string) error {
			if err := schema.Up(cmd.Context(), a.pool, a.logger); err != nil {
				return err
			}
			return status(cmd, a)
		}),
	}
	var steps int
	var all bool
	down := &cobra.Command{
		Use: "down", Short: "Revert the newest migration (--steps N for more, --all for everything including River's schema)", Args: cobra.NoArgs,
		RunE: withDB(func(cmd *cobra.Command, a *app, _ []string) error {
			if steps < 1 {
				return usageError{fmt.Errorf("--steps must be at least 1, not %d", steps)}
			}
			if err := schema.Down(cmd.Context(), a.pool, steps, all, a.logger); err != nil {
				return err
			}
			return status(cmd, a)
		}),
	}
	down.Flags().IntVar(&steps, "steps", 1, "how many of our migrations to revert")
	down.Flags().BoolVar(&all, "all", false, "revert every migration, ours and River's (deletes all data)")
	st := &cobra.Command{
		Use: "status", Short: "Show the applied and the newest migration versions", Args: cobra.NoArgs,
		RunE: withDB(func(cmd *cobra.Command, a *app, _ []string) error { return status(cmd, a) }),
	}
	force := &cobra.Command{
		Use: "force VERSION", Short: "Mark VERSION as applied and clean, after fixing a failed migration by hand", Args: cobra.ExactArgs(1),
		RunE: withDB(func(cmd *cobra.Command, a *app, args []string) error {
			v, err := strconv.Atoi(args[0])
			if err != nil || v < 0 {
				return usageError{fmt.Errorf("VERSION must be a migration number, not %q", args[0])}
			}
			if err := schema.Force(cmd.Context(), a.pool, v); err != nil {
				return err
			}
			return status(cmd, a)
		}),
	}
	cmd.AddCommand(up, down, st, force)
	return cmd
}
