package logger

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// Info lines wait in the buffer; a warning writes them out with itself, in
// order; closing writes out the rest.
func TestBufferedLinesAndPromptWarnings(t *testing.T) {
	var console bytes.Buffer
	log, closeLog, err := New(config.Log{Level: "info", Format: "json", FlushInterval: time.Hour}, &console)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("first")
	if console.Len() != 0 {
		t.Fatalf("an info line was written at once: %q", console.String())
	}
	log.Warn("second")
	if got := messages(t, console.String()); strings.Join(got, ",") != "first,second" {
		t.Fatalf("after a warning the console holds %v, want [first second]", got)
	}
	log.Info("third")
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if got := messages(t, console.String()); strings.Join(got, ",") != "first,second,third" {
		t.Fatalf("after closing the console holds %v, want [first second third]", got)
	}
}

func TestUnbufferedWritesEveryLine(t *testing.T) {
	var console bytes.Buffer
	log, _, err := New(config.Log{Level: "info", Format: "json"}, &console)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("now")
	if got := messages(t, console.String()); len(got) != 1 {
		t.Fatalf("console holds %v, want the line at once", got)
	}
}

func messages(t *testing.T, out string) []string {
	t.Helper()
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		msgs = append(msgs, e["msg"].(string))
	}
	return msgs
}

// Durations in the log carry their unit.
func TestDurationsCarryTheirUnit(t *testing.T) {
	var buf bytes.Buffer
	log, closeLog, err := New(config.Log{Level: "info", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("x", zap.Duration("latency", 1311*time.Microsecond))
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"latency":"1.311ms"`) {
		t.Errorf("log line %s: want the duration with its unit", buf.String())
	}
}
