package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/service"
)

// runBackup is `tiktok-server backup --config C.yaml --out FILE.tar.gz`,
// safe while the server runs.
func runBackup(ctx context.Context, args []string, stdout io.Writer) error {
	fs, serverConfig := serverSubcommand("backup", "the server's configuration file", stdout)
	out := fs.String("out", "", "the archive to write, e.g. backup.tar.gz")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("backup: --out is required")
	}
	cfg, err := serverConfig()
	if err != nil {
		return err
	}
	db, err := model.Open(cfg.Database, zap.NewNop())
	if err != nil {
		return err
	}
	defer model.Close(db)
	src := service.BackupSource{DB: db, Driver: cfg.Database.Driver}
	if cfg.Storage.Backend == "local" {
		src.MediaDir = cfg.Storage.Local.Dir
	}
	if cfg.JWT.Secret == "" {
		src.SecretFile = filepath.Join(cfg.DataDir, "jwt.secret")
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m, err := service.Backup(ctx, src, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if rerr := os.Remove(*out); rerr != nil {
			fmt.Fprintln(stdout, "backup: remove the partial archive:", rerr)
		}
		return fmt.Errorf("backup: %w", err)
	}
	printManifest(stdout, "backup: wrote "+*out, m)
	return nil
}

// runRestore is `tiktok-server restore --config C.yaml --in FILE.tar.gz`,
// into an empty data directory.
func runRestore(ctx context.Context, args []string, stdout io.Writer) error {
	fs, serverConfig := serverSubcommand("restore", "the configuration of the server to restore into", stdout)
	in := fs.String("in", "", "the archive made by backup")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("restore: --in is required")
	}
	cfg, err := serverConfig()
	if err != nil {
		return err
	}
	if !cfg.Embedded() || cfg.Storage.Backend != "local" {
		return errors.New("restore: restores the embedded setup (SQLite, local media); restore MySQL from its own dump")
	}
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	m, err := service.Restore(ctx, f, service.RestoreTarget{
		Database: cfg.Database.DSN, MediaDir: cfg.Storage.Local.Dir, SecretFile: filepath.Join(cfg.DataDir, "jwt.secret"),
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	printManifest(stdout, "restore: checked and restored "+*in+" into "+cfg.DataDir, m)
	return nil
}

// serverSubcommand is the flag set of `tiktok-server name` for a
// subcommand that acts on one server, with its --config flag, and the
// loader of that server's own settings, read as the server reads them
// (the file and the TIKTOK_* variables).
func serverSubcommand(name, configHelp string, stdout io.Writer) (*flag.FlagSet, func() (*config.Config, error)) {
	fs := flag.NewFlagSet("tiktok-server "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	path := fs.String("config", "", configHelp+" (default "+config.DefaultPath+" when present)")
	return fs, func() (*config.Config, error) { return config.LoadEnv(*path, os.LookupEnv) }
}

func printManifest(w io.Writer, head string, m *service.Manifest) {
	fmt.Fprintln(w, head)
	for _, t := range model.Tables() {
		if n, ok := m.Tables[t.Name]; ok {
			fmt.Fprintf(w, "  %-14s %d rows\n", t.Name, n)
		}
	}
	fmt.Fprintf(w, "  %d files, each with its SHA-256 in manifest.json\n", len(m.Files))
	if m.Note != "" {
		fmt.Fprintln(w, "  note:", m.Note)
	}
}
