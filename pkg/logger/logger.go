// Package logger builds the zap logger: readable lines on the console and,
// when a file is configured, JSON lines in a file rotated by lumberjack.
package logger

import (
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
	encCfg.EncodeDuration = zapcore.MillisDurationEncoder

	consoleEnc := zapcore.NewJSONEncoder(encCfg)
	if cfg.Format == "console" {
		human := encCfg
		human.EncodeLevel = zapcore.CapitalLevelEncoder
		consoleEnc = zapcore.NewConsoleEncoder(human)
	}
	cores := []zapcore.Core{zapcore.NewCore(consoleEnc, zapcore.Lock(zapcore.AddSync(console)), level)}

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
		cores = append(cores, zapcore.NewCore(zapcore.NewJSONEncoder(encCfg), zapcore.AddSync(rotator), level))
		closeFile = rotator.Close
	}
	log := zap.New(zapcore.NewTee(cores...), zap.AddCaller())
	closer := func() error {
		// Sync on a terminal returns EINVAL on some systems; the file is
		// what must be flushed, and Close does that.
		if err := log.Sync(); err != nil && cfg.File == "" {
			return nil
		}
		return closeFile()
	}
	return log, closer, nil
}
