// Package logger builds the zap logger: readable lines on the console and,
// when a file is configured, JSON lines in a file rotated by lumberjack.
package logger

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/tiktok-lite/server/pkg/config"
)

// New returns the logger and a function that flushes and closes the file.
func New(cfg config.Log, console io.Writer) (*zap.Logger, func() error, error) {
	var level zapcore.Level
	if err := level.Set(cfg.Level); err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder // "1.31ms", "15s": the unit travels with the number

	consoleEnc := zapcore.NewJSONEncoder(encCfg)
	if cfg.Format == "console" {
		human := encCfg
		human.EncodeLevel = zapcore.CapitalLevelEncoder
		consoleEnc = zapcore.NewConsoleEncoder(human)
	}
	var buffers []*zapcore.BufferedWriteSyncer
	sink := func(w zapcore.WriteSyncer) zapcore.WriteSyncer {
		if cfg.FlushInterval <= 0 {
			return w
		}
		b := &zapcore.BufferedWriteSyncer{WS: w, Size: 256 << 10, FlushInterval: cfg.FlushInterval}
		buffers = append(buffers, b)
		return b
	}
	// The console's own Sync is hidden: on a pipe or a terminal it fails,
	// and on a file it would be an fsync per warning.
	plain := struct{ io.Writer }{console}
	cores := []zapcore.Core{zapcore.NewCore(consoleEnc, sink(zapcore.Lock(zapcore.AddSync(plain))), level)}

	closeFile := func() error { return nil }
	if cfg.File != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.File), 0o755); err != nil {
			return nil, nil, fmt.Errorf("log.file: %w", err)
		}
		rotator := &lumberjack.Logger{
			Filename:   cfg.File,
			MaxSize:    cfg.MaxSizeMB,
			MaxBackups: cfg.MaxBackups,
			MaxAge:     cfg.MaxAgeDays,
			Compress:   true,
		}
		cores = append(cores, zapcore.NewCore(zapcore.NewJSONEncoder(encCfg), sink(zapcore.AddSync(rotator)), level))
		closeFile = rotator.Close
	}
	var core zapcore.Core = zapcore.NewTee(cores...)
	if len(buffers) > 0 {
		core = promptAbove{Core: core, level: zapcore.WarnLevel}
	}
	log := zap.New(core, zap.AddCaller())
	closer := func() error {
		// Stop writes out what a buffer holds; unbuffered lines are
		// already written, and the console's Sync is hidden.
		var errs []error
		for _, b := range buffers {
			errs = append(errs, b.Stop())
		}
		return errors.Join(append(errs, closeFile())...)
	}
	return log, closer, nil
}

// promptAbove writes out the buffers after every line at level or above,
// so that warnings and errors (and the lines before them) are never held
// back, while the per-request info lines share a write.
type promptAbove struct {
	zapcore.Core
	level zapcore.Level
}

func (c promptAbove) With(fields []zapcore.Field) zapcore.Core {
	return promptAbove{Core: c.Core.With(fields), level: c.level}
}

func (c promptAbove) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c promptAbove) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if err := c.Core.Write(e, fields); err != nil {
		return err
	}
	if e.Level >= c.level {
		return c.Core.Sync()
	}
	return nil
}
