// Command graphsim runs the Microsoft Graph and identity platform emulator
// (internal/graphsim) as its own process, seeded with a deterministic demo
// directory or a seed file, for demos, manual testing and docker-compose.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code: 0 after a clean
// stop (SIGINT/SIGTERM), 1 after any error, reported as one line per problem.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "graphsim: %s\n", line)
		}
		return 1
	}
	return 0
}
