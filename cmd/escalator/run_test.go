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

// TestRunRefusesOpenHTTP: an HTTP address beyond loopback without a token
// stops `escalator run` before it starts, with what to do; the token or
// --http-insecure-no-token (the flag or its variable) lets it through.
func TestRunRefusesOpenHTTP(t *testing.T) {
	const refused = `--http-addr ":8080" listens beyond loopback`
	tests := []struct {
		name string
		args []string
		env  map[string]string
		// refused: the open API is what stops it. The others carry a
		// wrong --replicas, so that what gets past the HTTP check stops
		// there without starting anything.
		refused bool
	}{
		{"flag", []string{"--http-addr", ":8080"}, nil, true},
		{"variable", nil, map[string]string{"ESCALATOR_HTTP_ADDR": ":8080"}, true},
		{"token from the variable", []string{"--http-addr", ":8080", "--replicas", "9"},
			map[string]string{"ESCALATOR_HTTP_TOKEN": "t0ken"}, false},
		{"insecure flag", []string{"--http-addr", ":8080", "--http-insecure-no-token", "--replicas", "9"}, nil, false},
		{"insecure variable", []string{"--http-addr", ":8080", "--replicas", "9"},
			map[string]string{"ESCALATOR_HTTP_INSECURE_NO_TOKEN": "true"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"run"}, tt.args...), &out, &errb, func(k string) string { return tt.env[k] })
			if code != 2 {
				t.Fatalf("exit %d, want 2: %s", code, errb.String())
			}
			got := errb.String()
			if tt.refused {
				for _, want := range []string{refused, "--http-token", "ESCALATOR_HTTP_TOKEN", "--http-insecure-no-token"} {
					if !strings.Contains(got, want) {
						t.Errorf("stderr lacks %q: %s", want, got)
					}
				}
				return
			}
			if strings.Contains(got, refused) || !strings.Contains(got, "--replicas must be 1 to 5") {
				t.Errorf("stderr %q: want only the --replicas problem", got)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"run", "--help"}, &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("run --help: exit %d", code)
	}
	if !strings.Contains(out.String(), "--http-insecure-no-token") || !strings.Contains(out.String(), "[$ESCALATOR_HTTP_INSECURE_NO_TOKEN]") {
		t.Errorf("run --help does not show --http-insecure-no-token and its variable:\n%s", out.String())
	}
}
