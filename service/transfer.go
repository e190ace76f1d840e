package service

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gorm.io/gorm"

	"github.com/tiktok-lite/server/model"
)

// Media is what a transfer needs of a media store on either side.
type Media interface {
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
}

// Endpoint is one side of a transfer: a migrated database and its media.
type Endpoint struct {
	DB    *gorm.DB
	Media Media
}

// TransferOptions tune a transfer.
type TransferOptions struct {
	Resume    bool  // go on after the last row the target holds; else it must be empty
	Batch     int   // rows per read and per target transaction
	StopAfter int64 // stop after copying this many rows (a trial run); 0: never
	// Progress hears after every batch; nil: nothing.
	Progress func(Progress)
}

// Progress is where a transfer is.
type Progress struct {
	Table      string
	Rows       int64 // of Table, copied so far (on resume: held by the target)
	TableRows  int64 // in Table on the source
	AllRows    int64 // copied so far, every table
	Total      int64 // rows on the source, every table
	MediaBytes int64 // copied so far
	Done       bool  // Table is complete
}

// TableCheck compares one table on both sides after the copy.
type TableCheck struct {
	Table                  string
	SourceRows, TargetRows int64
	SourceSum, TargetSum   string // model.KeySum
}

// TransferReport is what a finished transfer verified.
type TransferReport struct {
	Tables     []TableCheck
	Counters   []model.CounterCheck // recomputed on the target
	MediaBytes int64
	Objects    int
}

// ErrStopped is returned when StopAfter rows were copied; run again with
// Resume to go on.
var ErrStopped = errors.New("transfer stopped after the requested number of rows")

// ErrTargetNotEmpty is returned when the target holds rows and Resume is off.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// Transfer copies every table and the media its videos name from src to
// dst, ids, timestamps and counters as they are, then verifies the target:
// the row count and the key checksum of every table against the source,
// and every counter recomputed from its rows. The report comes with an
// error when anything differs.
func Transfer(ctx context.Context, src, dst Endpoint, opt TransferOptions) (*TransferReport, error) {
	if opt.Batch <= 0 {
		opt.Batch = 1000
	}
	if opt.Progress == nil {
		opt.Progress = func(Progress) {}
	}
	tables := model.Tables()
	sizes := make([]int64, len(tables))
	var p Progress
	for i, t := range tables {
		n, err := model.Count(ctx, src.DB, t)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		sizes[i], p.Total = n, p.Total+n
		if opt.Resume {
			continue
		}
		held, err := model.Count(ctx, dst.DB, t)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if held > 0 {
			return nil, fmt.Errorf("%w: %s holds %d rows (run with --resume to go on with an earlier transfer)", ErrTargetNotEmpty, t.Name, held)
		}
	}
	report := &TransferReport{}
	for i, t := range tables {
		var after []any
		p.Table, p.TableRows, p.Rows, p.Done = t.Name, sizes[i], 0, false
		if opt.Resume {
			var err error
			if after, err = model.LastKey(ctx, dst.DB, t); err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
			if p.Rows, err = model.Count(ctx, dst.DB, t); err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
			p.AllRows += p.Rows
		}
		for {
			limit := opt.Batch
			if opt.StopAfter > 0 {
				left := opt.StopAfter - p.AllRows
				if left <= 0 {
					return report, ErrStopped
				}
				limit = int(min(int64(limit), left))
			}
			rows, err := model.Batch(ctx, src.DB, t, after, limit)
			if err != nil {
				return nil, fmt.Errorf("source: %w", err)
			}
			if len(rows) == 0 {
				break
			}
			if t.Name == "videos" {
				// Media before rows: a row on the target always has its media.
				n, objects, err := copyMedia(ctx, src.Media, dst.Media, rows)
				if err != nil {
					return nil, err
				}
				p.MediaBytes += n
				report.MediaBytes += n
				report.Objects += objects
			}
			if err := model.Insert(ctx, dst.DB, t, rows); err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
			after = model.KeyOf(t, rows[len(rows)-1])
			p.Rows += int64(len(rows))
			p.AllRows += int64(len(rows))
			opt.Progress(p)
		}
		p.Done = true
		opt.Progress(p)
	}
	return report, verify(ctx, src, dst, report)
}

// copyMedia copies the video and cover of every video row.
func copyMedia(ctx context.Context, src, dst Media, videos []model.Row) (int64, int, error) {
	var bytes int64
	objects := 0
	for _, v := range videos {
		for _, col := range []string{"play_key", "cover_key"} {
			key, _ := v[col].(string)
			if key == "" {
				continue // a video without a cover of its own shows the default
			}
			n, err := copyObject(ctx, src, dst, key)
			if err != nil {
				return bytes, objects, fmt.Errorf("media of video %v: %w", v["id"], err)
			}
			bytes += n
			objects++
		}
	}
	return bytes, objects, nil
}

func copyObject(ctx context.Context, src, dst Media, key string) (int64, error) {
	r, size, err := src.Open(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	defer r.Close()
	if err := dst.Put(ctx, key, r, size, ""); err != nil {
		return 0, fmt.Errorf("target: %w", err)
	}
	return size, nil
}

// verify fills the report's checks; any difference is an error.
func verify(ctx context.Context, src, dst Endpoint, report *TransferReport) error {
	var problems []error
	for _, t := range model.Tables() {
		c := TableCheck{Table: t.Name}
		var err error
		if c.SourceRows, err = model.Count(ctx, src.DB, t); err != nil {
			return err
		}
		if c.TargetRows, err = model.Count(ctx, dst.DB, t); err != nil {
			return err
		}
		if c.SourceSum, err = model.KeySum(ctx, src.DB, t); err != nil {
			return err
		}
		if c.TargetSum, err = model.KeySum(ctx, dst.DB, t); err != nil {
			return err
		}
		if c.SourceRows != c.TargetRows || c.SourceSum != c.TargetSum {
			problems = append(problems, fmt.Errorf("%s: %d rows on the source, %d on the target, key checksums %s",
				t.Name, c.SourceRows, c.TargetRows, map[bool]string{true: "equal", false: "differ"}[c.SourceSum == c.TargetSum]))
		}
		report.Tables = append(report.Tables, c)
	}
	counters, err := model.CheckCounters(ctx, dst.DB)
	if err != nil {
		return err
	}
	report.Counters = counters
	for _, c := range counters {
		if c.Wrong > 0 {
			problems = append(problems, fmt.Errorf("%s disagrees with its rows on %d rows of the target", c.Name, c.Wrong))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("verification failed: %w", errors.Join(problems...))
	}
	return nil
}
