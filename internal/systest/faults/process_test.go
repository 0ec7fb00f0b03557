package faults

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// binPath is the escalator binary TestMain built.
var binPath string

// worker is one escalator process.
type worker struct {
	cmd    *exec.Cmd
	ready  chan struct{}
	exited chan struct{}
}

// startWorker runs `escalator run args...` with env (and nothing else of the
// test's environment), appending its log to logPath, and waits until it says
// it is ready.
func startWorker(t *testing.T, logPath string, env map[string]string, args ...string) *worker {
	t.Helper()
	if binPath == "" {
		t.Fatal("no escalator binary (TestMain did not build it)")
	}
	cmd := exec.Command(binPath, append([]string{"run"}, args...)...)
	cmd.Env = []string{"HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &worker{cmd: cmd, ready: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(w.exited)
		defer logf.Close()
		scanLog(stderr, logf, w.ready)
		_ = cmd.Wait()
	}()
	t.Cleanup(w.kill)
	select {
	case <-w.ready:
	case <-w.exited:
		t.Fatalf("escalator exited before it was ready; its log: %s", logPath)
	case <-time.After(time.Minute):
		t.Fatalf("escalator not ready after a minute; its log: %s", logPath)
	}
	return w
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *worker) kill() {
	select {
	case <-w.exited:
		return
	default:
	}
	_ = w.cmd.Process.Kill()
	<-w.exited
}
