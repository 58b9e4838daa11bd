// Command presencebridge is the Presence Bridge product: one binary whose
// roles (serve, web, worker) share one Postgres, plus the commands that run
// its database migrations, rotate its seal keys and start a local demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	if err := tuneGC(os.Getenv); err != nil {
		fmt.Fprintf(os.Stderr, "presencebridge: %v\n", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code. Every failure is
// reported as a single line (one per problem) prefixed with the program name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "presencebridge: %s\n", line)
		}
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks a mistake on the command line (exit code 2).
type usageError struct{ error }

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "presencebridge",
		Short: "Carry Microsoft Teams presence into telephony and contact-center platforms",
		Long: `Presence Bridge carries Microsoft Teams presence into telephony and contact-center platforms.

Without a command it runs the role named by PB_ROLE (default: serve).` + envHelp(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown role or command %q (roles: serve, web, worker; commands: migrate, keys, invite, staff, inbox, dev, version; see --help)", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			role := os.Getenv("PB_ROLE")
			if role == "" {
				role = "serve"
			}
			r, ok := roles[role]
			if !ok {
				return usageError{fmt.Errorf("PB_ROLE: unknown role %q (want serve, web or worker)", role)}
			}
			return runRole(cmd.Context(), r, stdout)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = storableArgs
	root.AddCommand(roleCmd("serve", "Run the web server and the background workers (the default role)", roles["serve"], stdout))
	root.AddCommand(roleCmd("web", "Run only the web server: onboarding, dashboard, API and Graph notification intake", roles["web"], stdout))
	root.AddCommand(roleCmd("worker", "Run only the background workers (subscriptions, tokens, repair, delivery)", roles["worker"], stdout))
	root.AddCommand(newMigrateCmd(stdout), newKeysCmd(stdout), newInviteCmd(stdout), newStaffCmd(stdout), newInboxCmd(stdout), newDevCmd(stdout), newVersionCmd(stdout))
	return root
}
