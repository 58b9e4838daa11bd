package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"presencebridge/internal/intake"
	"presencebridge/internal/store"
)

func newInboxCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "Look at and replay the Graph notifications the processor quarantined",
		Long: fmt.Sprintf(`Every Graph notification POST is kept in the inbox until a processor has applied it. One that cannot be
applied is quarantined, kept whole with the reason: it failed %d times (tried again after 1 s, then twice as
long each time, at most 5 min apart), its validation tokens failed, or it is no notification collection.
Quarantined notifications are deleted with the presence history of their time (PB_EVENT_RETENTION).

A replay puts them back in the inbox, where a running processor judges them again as new; an old change
is dropped then, not applied over a newer one.`, intake.MaxAttempts) + envHelp(),
	}
	cmd.AddCommand(newInboxListCmd(stdout), newInboxReplayCmd(stdout))
	return cmd
}

func newInboxListCmd(stdout io.Writer) *cobra.Command {
	var limit int
	var payload bool
	list := &cobra.Command{
		Use:   "list-quarantined [--limit N] [--payload]",
		Short: "List the quarantined notifications, oldest first: id, when received, reason, attempts, items, error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit <= 0 {
				return usageError{fmt.Errorf("--limit must be positive, not %d", limit)}
			}
			return withInbox(cmd.Context(), func(st *store.Store) error {
				rows, err := st.QuarantinedInbox(cmd.Context(), limit)
				if err != nil {
					return err
				}
				if len(rows) == 0 {
					fmt.Fprintln(stdout, "no quarantined notifications")
					return nil
				}
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				header := "ID\tRECEIVED\tREASON\tATTEMPTS\tITEMS\tERROR"
				if payload {
					header += "\tPAYLOAD" // the last column: its width sets no other's
				}
				fmt.Fprintln(tw, header)
				for _, r := range rows {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s", r.ID, r.ReceivedAt.UTC().Format(time.RFC3339), r.Reason, r.Attempts, r.Items, r.Error)
					if payload {
						fmt.Fprintf(tw, "\t%s", intake.RedactedPayload(r.Payload))
					}
					fmt.Fprintln(tw)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "list at most this many")
	list.Flags().BoolVar(&payload, "payload", false, "also print what Graph sent, each item's clientState redacted")
	return list
}

func newInboxReplayCmd(stdout io.Writer) *cobra.Command {
	var ids []int64
	var all bool
	var by string
	replay := &cobra.Command{
		Use:   "replay (--id N ... | --all)",
		Short: "Put quarantined notifications back in the inbox, to be processed again (audited)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all == (len(ids) > 0) {
				return usageError{errors.New("name the notifications to replay with --id (as list-quarantined shows them), or replay every one with --all")}
			}
			if all {
				ids = nil
			}
			return withInbox(cmd.Context(), func(st *store.Store) error {
				n, err := intake.ReplayQuarantined(cmd.Context(), st, ids, "staff:"+by)
				if err != nil {
					return err
				}
				if len(ids) > 0 && int(n) < len(ids) {
					fmt.Fprintf(stdout, "%d notification(s) back in the inbox; %d of the ids given are not quarantined\n", n, len(ids)-int(n))
					return nil
				}
				fmt.Fprintf(stdout, "%d notification(s) back in the inbox\n", n)
				return nil
			})
		},
	}
	replay.Flags().Int64SliceVar(&ids, "id", nil, "a quarantined notification's id (repeat, or separate with commas)")
	replay.Flags().BoolVar(&all, "all", false, "replay every quarantined notification")
	replay.Flags().StringVar(&by, "by", "cli", "who replays, for the audit log (your e-mail)")
	return replay
}

// withInbox runs fn on the product's database (shared with a running
// role, migrated), as the inbox commands use it.
func withInbox(ctx context.Context, fn func(*store.Store) error) error {
	a, err := openMigrated(ctx, "inbox")
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a.store)
}
