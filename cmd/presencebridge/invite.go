package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
	"presencebridge/internal/onboarding"
	"presencebridge/internal/store"
)

func newInviteCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Create onboarding invitations for new customers",
		Long: `An invitation is a signed link, valid for one new tenant and for a limited time, that the customer's
Microsoft 365 administrator opens to connect their tenant (form, consent, presence monitors).

Links start with PB_BASE_URL; in development (PB_ENV=development) without it, with http://localhost and
the port of PB_HTTP_ADDR, where "presencebridge dev" listens.` + envHelp(),
	}
	var name, by string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a tenant in onboarding and print its invitation link (first line) and when it expires",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return usageError{errors.New(`--name is required: the customer's name, such as --name "Contoso"`)}
			}
			if err := onboarding.CheckInviteTTL(ttl); err != nil {
				return usageError{fmt.Errorf("--ttl %w", err)}
			}
			svc, done, err := inviteService(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			t, link, err := svc.CreateInvite(cmd.Context(), name, "staff:"+by, ttl)
			if err != nil {
				return fmt.Errorf("create the invitation: %w", err)
			}
			fmt.Fprintln(stdout, link)
			fmt.Fprintf(stdout, "tenant %s (%s), link valid until %s\n", t.ID, t.Name, time.Now().Add(ttl).UTC().Format(time.RFC3339))
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "the customer's name, shown on the onboarding page (required)")
	create.Flags().DurationVar(&ttl, "ttl", onboarding.DefaultInviteTTL, "how long the link works")
	create.Flags().StringVar(&by, "by", "cli", "who invites, for the audit log (your e-mail)")
	cmd.AddCommand(create, newInviteRevokeCmd(stdout, &by))
	return cmd
}

// inviteService opens the product's database (migrated) and its onboarding
// service, as the invite commands use them; done closes them.
func inviteService(ctx context.Context) (svc *onboarding.Service, done func(), err error) {
	a, err := openMigrated(ctx, "invite")
	if err != nil {
		return nil, nil, err
	}
	if svc, err = a.onboardingService(linkBase(a.cfg)); err != nil {
		a.Close()
		return nil, nil, err
	}
	return svc, a.Close, nil
}

func newInviteRevokeCmd(stdout io.Writer, by *string) *cobra.Command {
	revoke := &cobra.Command{
		Use:   "revoke <link|token|tenant id>",
		Short: "Withdraw an invitation (its link or token), or every invitation of a tenant (its id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, done, err := inviteService(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			n, err := svc.RevokeInvite(cmd.Context(), strings.TrimSpace(args[0]), "staff:"+*by)
			var p *onboarding.Problem
			switch {
			case errors.As(err, &p):
				return usageError{fmt.Errorf("%s %s", p.Title, p.Detail)}
			case errors.Is(err, store.ErrTenantNotFound):
				return usageError{fmt.Errorf("no tenant or invitation %s", args[0])}
			case err != nil:
				return fmt.Errorf("revoke: %w", err)
			}
			fmt.Fprintf(stdout, "%d invitation(s) withdrawn\n", n)
			return nil
		},
	}
	revoke.Flags().StringVar(by, "by", "cli", "who withdraws, for the audit log (your e-mail)")
	return revoke
}

// linkBase is the URL links start with: PB_BASE_URL, else (development)
// the local address the product listens on.
func linkBase(cfg *config.Config) string {
	if cfg.BaseURL != "" {
		return cfg.BaseURL
	}
	_, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil || port == "" || port == "0" {
		port = "8080"
	}
	return "http://localhost:" + port
}
