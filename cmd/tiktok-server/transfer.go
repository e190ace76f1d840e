package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/model"
	"github.com/tiktok-lite/server/pkg/app"
	"github.com/tiktok-lite/server/pkg/config"
	"github.com/tiktok-lite/server/pkg/units"
	"github.com/tiktok-lite/server/service"
)

// runTransfer is `tiktok-server transfer --config SOURCE.yaml --to
// TARGET.yaml`: every table and every media object from the source's
// database and storage to the target's, verified at the end.
func runTransfer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tiktok-server transfer", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("config", "", "the source's configuration file (the server being moved)")
	to := fs.String("to", "", "the target's configuration file (database and storage to copy into)")
	resume := fs.Bool("resume", false, "go on with a transfer that stopped; without it the target database must be empty")
	batch := fs.Int("batch", 1000, "rows per read and per target transaction")
	limit := fs.Int64("limit", 0, "copy at most this many rows, then stop (a trial run; go on with --resume)")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: tiktok-server transfer --config SOURCE.yaml --to TARGET.yaml [--resume] [--batch N] [--limit N]")
		fmt.Fprintln(stdout, "Both files are read alone: TIKTOK_* variables do not apply, so one setting cannot reach both sides.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("transfer: --config and --to are required")
	}
	src, closeSrc, err := openEndpoint(*from)
	if err != nil {
		return fmt.Errorf("transfer: source %s: %w", *from, err)
	}
	defer closeSrc()
	dst, closeDst, err := openEndpoint(*to)
	if err != nil {
		return fmt.Errorf("transfer: target %s: %w", *to, err)
	}
	defer closeDst()

	show := progressPrinter(stdout)
	report, err := service.Transfer(ctx, src, dst, service.TransferOptions{Resume: *resume, Batch: *batch, StopAfter: *limit, Progress: show})
	if errors.Is(err, service.ErrStopped) {
		fmt.Fprintf(stdout, "transfer: stopped after %d rows as asked; run again with --resume to go on\n", *limit)
		return err
	}
	if report != nil && len(report.Tables) > 0 {
		printReport(stdout, report)
	}
	if err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	fmt.Fprintln(stdout, "transfer: done; every table and counter verified")
	return nil
}

// openEndpoint opens and migrates the database and the media store that
// the configuration file at path names.
func openEndpoint(path string) (service.Endpoint, func(), error) {
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		return service.Endpoint{}, nil, err
	}
	db, err := model.Open(cfg.Database, zap.NewNop())
	if err != nil {
		return service.Endpoint{}, nil, err
	}
	closeDB := func() {
		if err := model.Close(db); err != nil {
			fmt.Fprintln(os.Stderr, "close database:", err)
		}
	}
	if err := model.Migrate(db); err != nil {
		closeDB()
		return service.Endpoint{}, nil, err
	}
	base := cfg.Server.PublicURL // media URLs are not built in a transfer
	if base == "" {
		base = "http://localhost"
	}
	files, err := app.OpenMedia(cfg, base, zap.NewNop())
	if err != nil {
		closeDB()
		return service.Endpoint{}, nil, err
	}
	return service.Endpoint{DB: db, Media: files}, closeDB, nil
}

// progressPrinter rewrites one line on a terminal and prints plain lines,
// at most one a second per table and one when a table is done, elsewhere.
func progressPrinter(w io.Writer) func(service.Progress) {
	f, ok := w.(*os.File)
	terminal := false
	if ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			terminal = true
		}
	}
	start, last := time.Now(), time.Time{}
	return func(p service.Progress) {
		if !terminal && !p.Done && time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		eta := "?"
		if p.AllRows > 0 {
			perRow := time.Since(start) / time.Duration(p.AllRows)
			eta = (perRow * time.Duration(p.Total-p.AllRows)).Round(time.Second).String()
		}
		line := fmt.Sprintf("transfer: %-13s %d/%d rows, media %s, all %d/%d rows, ETA %s",
			p.Table, p.Rows, p.TableRows, units.Bytes(p.MediaBytes), p.AllRows, p.Total, eta)
		if terminal {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if p.Done {
				fmt.Fprintln(w)
			}
			return
		}
		fmt.Fprintln(w, line)
	}
}

func printReport(w io.Writer, r *service.TransferReport) {
	fmt.Fprintf(w, "%-14s %10s %10s  %s\n", "table", "source", "target", "key checksum")
	for _, t := range r.Tables {
		state := "equal"
		if t.SourceSum != t.TargetSum {
			state = "DIFFERS"
		}
		fmt.Fprintf(w, "%-14s %10d %10d  %s %s\n", t.Table, t.SourceRows, t.TargetRows, state, t.TargetSum[:12])
	}
	for _, c := range r.Counters {
		state := "ok"
		if c.Wrong > 0 {
			state = fmt.Sprintf("WRONG on %d rows", c.Wrong)
		}
		fmt.Fprintf(w, "counter %-22s %s\n", c.Name, state)
	}
	fmt.Fprintf(w, "media: %d objects, %s\n", r.Objects, units.Bytes(r.MediaBytes))
}
