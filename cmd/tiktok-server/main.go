// Command tiktok-server serves the minimal Douyin API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/app"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/logger"
)

// Set at build time by make release.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tiktok-server:", err)
		os.Exit(1)
	}
}

// buildVersion is the version and commit set by make build or make
// release, or else what the Go toolchain recorded of the checkout it built
// from (go build and go run in a git work tree).
func buildVersion() (string, string) {
	v, c := version, commit
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v, c
	}
	if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if c == "unknown" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				c = s.Value[:7]
			}
		}
	}
	return v, c
}

func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout io.Writer) error {
	if len(args) > 0 {
		sub, ok := map[string]func(context.Context, []string, io.Writer) error{
			"transfer": runTransfer, "backup": runBackup, "restore": runRestore, "healthcheck": runHealthcheck,
		}[args[0]]
		if ok {
			if err := sub(ctx, args[1:], stdout); !errors.Is(err, flag.ErrHelp) {
				return err
			}
			return nil
		}
	}
	fs := flag.NewFlagSet("tiktok-server", flag.ContinueOnError)
	fs.SetOutput(stdout)
	configPath := fs.String("config", "", "path of the YAML configuration (default "+config.DefaultPath+" when present)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stdout, `usage: tiktok-server [--config FILE]   serve the API
       tiktok-server transfer --config SOURCE.yaml --to TARGET.yaml [--resume]
                                        copy every row and media object to another install, verified
       tiktok-server backup --config FILE --out BACKUP.tar.gz
                                        a consistent archive while the server runs
       tiktok-server restore --config FILE --in BACKUP.tar.gz
                                        into an empty data directory
       tiktok-server healthcheck [--config FILE]
                                        exit 0 when this host's server answers /healthz
Each subcommand takes --help. Every setting is also a TIKTOK_* variable: the table of
keys, defaults and variables is in docs/operations.md, section Configuration.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unknown argument %q: see tiktok-server --help", fs.Arg(0))
	}
	if *showVersion {
		v, c := buildVersion()
		fmt.Fprintf(stdout, "tiktok-server %s (commit %s)\n", v, c)
		return nil
	}
	cfg, err := config.LoadEnv(*configPath, lookupEnv)
	if err != nil {
		return err
	}
	log, closeLog, err := logger.New(cfg.Log, stdout)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeLog(); err != nil {
			fmt.Fprintln(stdout, "close log:", err)
		}
	}()
	tp, stopTracing, err := startTracing(cfg, log)
	if err != nil {
		return err
	}
	defer stopTracing() // after serve: exports the spans of the drain too
	v, c := buildVersion()
	a, err := app.New(ctx, cfg, app.Build{Version: v, Commit: c}, app.Parts{Log: log, Tracer: tp})
	if err == nil {
		err = a.Run(ctx)
	}
	if err != nil {
		log.Error("server stopped", zap.Error(err))
		return err
	}
	return nil
}
