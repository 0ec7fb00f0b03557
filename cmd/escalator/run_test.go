package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunPortTakenExits runs the real binary with its HTTP port in use: it
// exits non-zero at once, its last line on stderr the reason in one plain
// line, with no Go stack trace anywhere, and without having started NATS.
func TestRunPortTakenExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "escalator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	dir := t.TempDir()
	// A hang guard, not a measure: the binary returns long before it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--data-dir", dir, "--nats-listen", "127.0.0.1:0", "--http-addr", addr,
		"--policies", "../../policies", "--simulate-providers")
	cmd.Env = append(os.Environ(), "ESCALATOR_LOG_FORMAT=json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("still running after a minute with the HTTP port taken:\n%s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero status\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if want := "escalator run: listen http " + addr + ": address already in use"; lines[len(lines)-1] != want {
		t.Errorf("last line on stderr %q, want %q\n%s", lines[len(lines)-1], want, stderr.String())
	}
	for _, trace := range []string{"stacktrace", "goroutine "} {
		if strings.Contains(stderr.String(), trace) {
			t.Errorf("stderr has a stack trace (%q):\n%s", trace, stderr.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NATS was started before the HTTP port was taken (store: %v)", err)
	}
}
