package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEnvFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, "127.0.0.1:8080"},
		{"env", nil, map[string]string{"ESCALATOR_HTTP_ADDR": ":9000"}, ":9000"},
		{"flag wins", []string{"--http-addr", ":7000"}, map[string]string{"ESCALATOR_HTTP_ADDR": ":9000"}, ":7000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newEnvFlags("t", &bytes.Buffer{})
			addr := fs.String("http-addr", "127.0.0.1:8080", "")
			fs.bind("http-addr", "ESCALATOR_HTTP_ADDR")
			if err := fs.parse(tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if *addr != tt.want {
				t.Fatalf("got %q, want %q", *addr, tt.want)
			}
		})
	}
	fs := newEnvFlags("t", &bytes.Buffer{})
	fs.Int("replicas", 1, "")
	fs.bind("replicas", "ESCALATOR_REPLICAS")
	err := fs.parse(nil, func(string) string { return "three" })
	if err == nil || !strings.Contains(err.Error(), `ESCALATOR_REPLICAS="three"`) {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"version"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb, func(string) string { return "" }); code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errb.String())
		}
		if out.Len() == 0 {
			t.Fatalf("%v printed nothing", args)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb, nil); code != 2 ||
		!strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %s", code, errb.String())
	}
	if code := run(context.Background(), []string{"run", "--replicas", "9"}, &out, &errb, func(string) string { return "" }); code != 2 ||
		!strings.Contains(errb.String(), "--replicas must be 1 to 5") {
		t.Fatalf("bad replicas: %d %s", code, errb.String())
	}
	// A retention shorter than the alerts are kept is refused, from the
	// flag and from the environment alike.
	errb.Reset()
	if code := run(context.Background(), []string{"run", "--escalation-retention", "24h"}, &out, &errb, func(string) string { return "" }); code != 2 ||
		!strings.Contains(errb.String(), "--escalation-retention must be 0 (keep for ever) or at least 168h0m0s") {
		t.Fatalf("short retention: %d %s", code, errb.String())
	}
	errb.Reset()
	env := func(k string) string {
		if k == "ESCALATOR_ESCALATION_RETENTION" {
			return "1h"
		}
		return ""
	}
	if code := run(context.Background(), []string{"run"}, &out, &errb, env); code != 2 || !strings.Contains(errb.String(), "got 1h0m0s") {
		t.Fatalf("short retention from the environment: %d %s", code, errb.String())
	}
}

// TestSIGTERM runs the real binary on embedded defaults, waits for it to say
// it is ready, sends SIGTERM and expects a clean exit 0.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "escalator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--data-dir", dir, "--nats-listen", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--policies", "../../policies", "--simulate-providers")
	cmd.Env = append(os.Environ(), "ESCALATOR_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	ready := make(chan struct{})
	var logs bytes.Buffer
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "escalator ready") {
				signalled = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("worker never said it was ready")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		<-scanned
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
