package main

import (
	"fmt"
	"strings"

	"presencebridge/internal/config"
)

// envHelp lists the environment variables, for the --help of every command
// that reads configuration.
func envHelp() string {
	var b strings.Builder
	b.WriteString("\n\nEnvironment variables:\n")
	for _, v := range config.Vars() {
		def := ""
		if v.Default != "" {
			def = fmt.Sprintf(" (default %q)", v.Default)
		}
		fmt.Fprintf(&b, "  %-20s %s%s\n", v.Name, v.Help, def)
	}
	b.WriteString("  PB_ROLE              role run when no command is given: serve, web or worker (default \"serve\")\n")
	return b.String()
}
