package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"presencebridge/internal/config"
	"presencebridge/internal/seal"
)

func newKeysCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Generate seal keys and re-seal stored secrets under the active key",
		Long: `Seal keys protect refresh tokens, client secrets and webhook secrets at rest (AES-256-GCM).

To rotate: generate a key, append it to PB_SEAL_KEYS (it becomes active as the last one listed, or name
it in PB_SEAL_ACTIVE_KEY), restart, then run "presencebridge keys rotate". Old keys must stay listed
until rotate reports that nothing uses them.` + envHelp(),
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
			fmt.Fprintln(stdout, "no secret uses any other key: keys other than the active one may be removed from the ring")
			return nil
		},
	}
	rotate.Flags().IntVar(&batch, "batch", 500, "secrets re-sealed per transaction")
	cmd.AddCommand(gen, rotate)
	return cmd
}
