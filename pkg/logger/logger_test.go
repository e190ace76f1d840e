package logger

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/pkg/config"
)

func TestConsoleAndJSONFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "logs", "server.log")
	var console bytes.Buffer
	log, closeLog, err := New(config.Log{Level: "info", Format: "console", File: file, MaxSizeMB: 1}, &console)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	log.Debug("hidden")
	log.Info("request", zap.String("route", "/douyin/feed/"))
	if err := closeLog(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if !strings.Contains(console.String(), "INFO") || !strings.Contains(console.String(), "/douyin/feed/") {
		t.Errorf("console output %q lacks the readable line", console.String())
	}
	if strings.Contains(console.String(), "hidden") {
		t.Errorf("debug line written at info level: %q", console.String())
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read log file: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(raw), &line); err != nil {
		t.Fatalf("file line %q is not JSON: %v", raw, err)
	}
	if line["route"] != "/douyin/feed/" || line["msg"] != "request" {
		t.Errorf("file line = %v, want msg request and route", line)
	}
}

func TestBadLevel(t *testing.T) {
	if _, _, err := New(config.Log{Level: "loud", Format: "console"}, &bytes.Buffer{}); err == nil {
		t.Fatal("New with level loud succeeded, want an error")
	}
}
