package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
	"presencebridge/internal/english"
	"presencebridge/internal/seal"
	"presencebridge/internal/store"
)

func newKeysCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Generate seal keys and re-seal stored secrets under the active key",
		Long: `Seal keys protect refresh tokens, client secrets and webhook secrets at rest (AES-256-GCM).

To rotate: generate a key; append it to PB_SEAL_KEYS with PB_SEAL_ACTIVE_KEY naming the current key and
restart every instance; then make the new key active (PB_SEAL_ACTIVE_KEY, or the last key listed) and
restart every instance again — in two rounds, because an instance without the new key cannot open what
one already using it seals; then run "presencebridge keys rotate". Old keys must stay listed
until rotate reports that nothing uses them: no sealed secret, and no live invitation or Copy URL
(links are signed under a key, and cannot be re-signed: rotate says until when they need it).` + envHelp(),
	}
	var id string
	gen := &cobra.Command{
		Use: "generate", Short: "Print a new random key as id:base64, for PB_SEAL_KEYS or a key file", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if id == "" {
				id = "k" + time.Now().UTC().Format("20060102150405")
			}
			k, err := seal.GenerateKey(id)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, seal.FormatKey(k))
			return err
		},
	}
	gen.Flags().StringVar(&id, "id", "", "key id (default k<UTC timestamp>)")

	var batch int
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Re-seal every stored secret under the active key (idempotent, resumable, safe alongside running instances)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.FromOS(false)
			if err != nil {
				return err
			}
			a, err := openApp(cmd.Context(), cfg, "keys", sharedServer)
			if err != nil {
				return err
			}
			defer a.Close()
			total := 0
			for {
				n, err := a.store.RotateSecrets(cmd.Context(), batch)
				if err != nil {
					return fmt.Errorf("after re-sealing %d secrets: %w", total, err)
				}
				if n == 0 {
					break
				}
				total += n
				a.logger.Info("re-sealed a batch of secrets", "count", n, "total", total, "key", a.ring.ActiveID())
			}
			byKey, err := a.store.SecretsByKey(cmd.Context())
			if err != nil {
				return err
			}
			var others []string
			for k, c := range byKey {
				if k != a.ring.ActiveID() {
					others = append(others, fmt.Sprintf("%s (%d)", k, c))
				}
			}
			sort.Strings(others)
			fmt.Fprintf(stdout, "re-sealed %d secrets; %d secrets are sealed with the active key %s\n", total, byKey[a.ring.ActiveID()], a.ring.ActiveID())
			if len(others) > 0 {
				// Rows added by an instance still on an older active key.
				return fmt.Errorf("secrets still under other keys: %s: run rotate again once every instance uses key %s", strings.Join(others, ", "), a.ring.ActiveID())
			}
			uses, err := a.store.LiveLinkKeys(cmd.Context())
			if err != nil {
				return err
			}
			reportLinkKeys(stdout, uses, a.ring.ActiveID())
			return nil
		},
	}
	rotate.Flags().IntVar(&batch, "batch", 500, "secrets re-sealed per transaction")
	cmd.AddCommand(gen, rotate)
	return cmd
}

// reportLinkKeys ends rotate's report, every secret being under the active
// key: links cannot be re-sealed (their holders have them), so a key that
// live links were made under stays in the ring until the last expires, and
// links whose key was not recorded (made before migration 000041) keep
// every key until then.
func reportLinkKeys(w io.Writer, uses []store.LinkKeyUse, active string) {
	var keep []string
	var unknown time.Time
	for _, u := range uses {
		switch u.KeyID {
		case active:
			continue
		case "":
			unknown = u.Until
		default:
			keep = append(keep, u.KeyID)
		}
		name := u.KeyID
		if name == "" {
			name = "key not recorded"
		}
		fmt.Fprintf(w, "live links under %s: %s, the last expiring %s\n", name, linkCounts(u), roundedUp(u.Until))
	}
	switch {
	case !unknown.IsZero():
		fmt.Fprintf(w, "no secret uses any other key, but some live links were made before their key was recorded: keep every key in the ring until %s\n", roundedUp(unknown))
	case len(keep) > 0:
		var until []string
		for _, u := range uses {
			if slices.Contains(keep, u.KeyID) {
				until = append(until, fmt.Sprintf("keep %s in the ring until %s", u.KeyID, roundedUp(u.Until)))
			}
		}
		fmt.Fprintf(w, "no secret uses any other key, but live links do: %s ; keys other than %s and %s may be removed now\n",
			strings.Join(until, ", "), active, strings.Join(keep, ", "))
	default:
		fmt.Fprintln(w, "no secret or live link uses any other key: keys other than the active one may be removed from the ring")
	}
}

// linkCounts says "1 invitation and 2 Copy URLs".
func linkCounts(u store.LinkKeyUse) string {
	var parts []string
	if u.Invites > 0 {
		parts = append(parts, english.Count(u.Invites, "invitation", "invitations"))
	}
	if u.MonitorLinks > 0 {
		parts = append(parts, english.Count(u.MonitorLinks, "Copy URL", "Copy URLs"))
	}
	return strings.Join(parts, " and ")
}

// roundedUp is t to the minute after, in UTC: "keep until" must not come
// before the expiry.
func roundedUp(t time.Time) string {
	return t.Add(time.Minute - 1).Truncate(time.Minute).UTC().Format("2006-01-02 15:04 UTC")
}
