package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
	"presencebridge/internal/staff"
	"presencebridge/internal/store"
	"presencebridge/internal/store/schema"
)

func newStaffCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "staff",
		Short: "Manage the vendor staff accounts that sign in to the support console",
		Long: `Staff accounts sign in to the support console (/console) with their e-mail address and password, and a
TOTP code once they enroll one (on the console's Account page). Roles: viewer (looks at every tenant),
support (also acts on tenants), admin (everything). An account is locked for 15 minutes after 5 failed
sign-ins in a row. Every change is audited with --by; the last enabled admin cannot be demoted or disabled.` + envHelp(),
	}
	var by string
	cmd.PersistentFlags().StringVar(&by, "by", "cli", "who makes the change, for the audit log (your e-mail)")
	cmd.AddCommand(newStaffAddCmd(stdout, &by), newStaffListCmd(stdout), newStaffRoleCmd(stdout, &by), newStaffPasswordCmd(stdout, &by))
	for _, c := range []struct {
		use, short, done string
		change           func(svc *staff.Service, ctx context.Context, email, by string) (store.Staff, error)
	}{
		{"disable", "Stop an account from signing in (its session ends at its next request); the account is kept for the audit log", "disabled", (*staff.Service).Disable},
		{"enable", "Let a disabled account sign in again", "enabled", (*staff.Service).Enable},
		{"unlock", "End an account's lock after failed sign-ins, so that it may sign in at once", "unlocked", (*staff.Service).Unlock},
		{"reset-totp", "Remove an account's authenticator app (a lost phone): it signs in with its password alone until it sets up a new one", "has no authenticator app now", (*staff.Service).ResetTOTP},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   c.use + " <email>",
			Short: c.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				who, err := changeStaff(cmd, func(svc *staff.Service) (store.Staff, error) {
					return c.change(svc, cmd.Context(), strings.TrimSpace(args[0]), staff.Actor(by))
				})
				if err == nil {
					fmt.Fprintf(stdout, "staff account %s %s\n", who.Email, c.done)
				}
				return err
			},
		})
	}
	return cmd
}

func newStaffAddCmd(stdout io.Writer, by *string) *cobra.Command {
	var email, name, role string
	var fromStdin bool
	add := &cobra.Command{
		Use:   "add --email you@vendor.example --role viewer|support|admin [--name \"Your Name\"] [--password-stdin]",
		Short: "Create an account; its generated password is printed once (first line), or read from standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := staff.ParseRole(role)
			if err != nil {
				return usageError{fmt.Errorf("--role: %w", err)}
			}
			password, generated := staff.GeneratePassword(), true
			if fromStdin {
				if password, err = readPassword(cmd.InOrStdin()); err != nil {
					return usageError{err}
				}
				generated = false
			}
			return withStaff(cmd.Context(), func(svc *staff.Service) error {
				who, err := svc.Add(cmd.Context(), email, name, r, password, staff.Actor(*by))
				if refusal, ok := errors.AsType[*staff.Refusal](err); ok {
					return usageError{refusal}
				}
				if err != nil {
					return fmt.Errorf("add the account: %w", err)
				}
				if generated {
					fmt.Fprintln(stdout, password)
				}
				fmt.Fprintf(stdout, "staff account %s (%s) added\n", who.Email, who.Role)
				return nil
			})
		},
	}
	add.Flags().StringVar(&email, "email", "", "the account's e-mail address, its sign-in name (required)")
	add.Flags().StringVar(&name, "name", "", "the person's name, shown in the console")
	add.Flags().StringVar(&role, "role", "", "viewer, support or admin (required)")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, fmt.Sprintf("read the password (at least %d characters) from the first line of standard input instead of generating one", staff.MinPasswordLength))
	return add
}

func newStaffRoleCmd(stdout io.Writer, by *string) *cobra.Command {
	return &cobra.Command{
		Use:   "role <email> viewer|support|admin",
		Short: "Give an account another role (it applies at the account's next request)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := staff.ParseRole(args[1])
			if err != nil {
				return usageError{err}
			}
			who, err := changeStaff(cmd, func(svc *staff.Service) (store.Staff, error) {
				return svc.SetRole(cmd.Context(), strings.TrimSpace(args[0]), r, staff.Actor(*by))
			})
			if err == nil {
				fmt.Fprintf(stdout, "staff account %s is %s\n", who.Email, r)
			}
			return err
		},
	}
}

func newStaffPasswordCmd(stdout io.Writer, by *string) *cobra.Command {
	var fromStdin bool
	c := &cobra.Command{
		Use:   "password <email> [--password-stdin]",
		Short: "Give an account a new password: generated and printed once (first line), or read from standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password := staff.GeneratePassword()
			if fromStdin {
				var err error
				if password, err = readPassword(cmd.InOrStdin()); err != nil {
					return usageError{err}
				}
			}
			who, err := changeStaff(cmd, func(svc *staff.Service) (store.Staff, error) {
				return svc.SetPassword(cmd.Context(), strings.TrimSpace(args[0]), password, staff.Actor(*by))
			})
			if err != nil {
				return err
			}
			if !fromStdin {
				fmt.Fprintln(stdout, password)
			}
			fmt.Fprintf(stdout, "staff account %s has a new password\n", who.Email)
			return nil
		},
	}
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, fmt.Sprintf("read the password (at least %d characters) from the first line of standard input instead of generating one", staff.MinPasswordLength))
	return c
}

// changeStaff makes a change to an account and returns it as it is after;
// a refusal is a usage error in its words.
func changeStaff(cmd *cobra.Command, change func(*staff.Service) (store.Staff, error)) (store.Staff, error) {
	var who store.Staff
	err := withStaff(cmd.Context(), func(svc *staff.Service) error {
		var err error
		who, err = change(svc)
		if refusal, ok := errors.AsType[*staff.Refusal](err); ok {
			return usageError{refusal}
		}
		if err != nil {
			return fmt.Errorf("change the account: %w", err)
		}
		return nil
	})
	return who, err
}

func newStaffListCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the accounts with their role, state and last sign-in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStaff(cmd.Context(), func(svc *staff.Service) error {
				all, err := svc.List(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tSTATE\tTOTP\tLAST SIGN-IN")
				for _, s := range all {
					totp, last := "no", "never"
					if s.TOTP {
						totp = "yes"
					}
					if s.LastSignInAt != nil {
						last = s.LastSignInAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Email, s.Name, s.Role, staff.State(s, time.Now()), totp, last)
				}
				return tw.Flush()
			})
		},
	}
}

// withStaff runs fn with the staff accounts of the product's database
// (migrated first).
func withStaff(ctx context.Context, fn func(*staff.Service) error) error {
	a, err := openMigrated(ctx, "staff")
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(staff.New(a.store, staff.Options{}))
}

// openMigrated opens the app of an admin command (invite, staff): the
// configuration from the environment, the database shared with a running
// role, migrated. Close releases it.
func openMigrated(ctx context.Context, name string) (*app, error) {
	cfg, err := config.FromOS(false)
	if err != nil {
		return nil, err
	}
	a, err := openApp(ctx, cfg, name, sharedServer)
	if err != nil {
		return nil, err
	}
	if err := schema.Up(ctx, a.pool, a.logger); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// readPassword reads the first line of r, the password, without its line
// ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("--password-stdin: standard input is empty; write the password on its first line")
	}
	return line, nil
}
