// Command benchtool is the Go side of the benchmark harness (run.sh): it
// seeds a data set through the model store, logs a pool of users in and
// writes the request lists the wrk scripts read, captures the server's
// answers for the ceiling server, checks every counter against its rows,
// and prints the results table.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

const usage = `usage: benchtool <command> [flags]
commands:
  seed      fill the configured database (TIKTOK_* variables) with the data set
  prepare   log the user pool in, write request lists, capture answers
  pairs     write the current like/follow state of the write pairs
  ceiling   serve captured answers: the HTTP stack's ceiling
  check     compare every counter with its rows, in the database and as served
  report    print and write the results table
  freeport  print a free TCP port on 127.0.0.1`

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "seed":
		return runSeed(ctx, rest, getenv, stdout)
	case "prepare":
		return runPrepare(ctx, rest, getenv, stdout)
	case "pairs":
		return runPairs(ctx, rest, getenv, stdout)
	case "ceiling":
		return runCeiling(ctx, rest, stdout)
	case "check":
		return runCheck(ctx, rest, getenv, stdout)
	case "report":
		return runReport(rest, stdout)
	case "freeport":
		return runFreePort(stdout)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}
