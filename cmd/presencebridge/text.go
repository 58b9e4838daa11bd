package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"presencebridge/internal/store"
)

// storableArgs refuses, as a usage error, a command whose flag or argument
// the database could not store (store.Storable): an argument cannot hold
// a NUL, but it can hold bytes that are not UTF-8, which reached a query
// and failed the command on the database's "invalid byte sequence for
// encoding UTF8", or were stored as U+FFFD after strings.ToLower (--by).
// Every command runs it first (no command has a hook of its own).
func storableArgs(cmd *cobra.Command, args []string) error {
	var bad error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if bad == nil && !store.Storable(f.Value.String()) {
			bad = usageError{fmt.Errorf("--%s: %s", f.Name, store.NotText)}
		}
	})
	if bad != nil {
		return bad
	}
	for _, a := range args {
		if !store.Storable(a) {
			return usageError{fmt.Errorf("%q: %s", a, store.NotText)}
		}
	}
	return nil
}
