package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// logged builds the process logger (NewLogger, which writes to stderr) with
// stderr pointed at a file, calls log, and returns what was written.
func logged(t *testing.T, format string, log func(*testing.T, *zap.Logger)) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stderr := os.Stderr
	os.Stderr = f
	l, err := NewLogger(format, "info")
	os.Stderr = stderr
	if err != nil {
		t.Fatal(err)
	}
	log(t, l)
	_ = l.Sync()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestErrorLogsCarryNoStackTrace: an error logged for an operator (here
// the message a configuration problem stops the worker with) is its
// message, without a Go stack trace; a DPanic, a bug, keeps its trace.
func TestErrorLogsCarryNoStackTrace(t *testing.T) {
	const msg = "escalator stopped with an error"
	out := logged(t, "json", func(_ *testing.T, l *zap.Logger) {
		l.Error(msg)
		l.DPanic("a bug")
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d:\n%s", len(lines), out)
	}
	var errLine, bugLine map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &errLine); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &bugLine); err != nil {
		t.Fatalf("%v: %s", err, lines[1])
	}
	if errLine["msg"] != msg || errLine["level"] != "error" {
		t.Fatalf("first line %s: want the error", lines[0])
	}
	if st, ok := errLine["stacktrace"]; ok {
		t.Errorf("the error line carries a stack trace:\n%v", st)
	}
	if _, ok := bugLine["stacktrace"]; !ok {
		t.Errorf("the DPanic line lost its stack trace: %s", lines[1])
	}

	// Console: the error is one line, no trace under it.
	out = logged(t, "console", func(_ *testing.T, l *zap.Logger) { l.Error(msg) })
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], msg) {
		t.Errorf("console error: want one line, got:\n%s", out)
	}
}
