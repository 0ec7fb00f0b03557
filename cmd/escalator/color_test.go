package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// openPTY opens a pseudo-terminal: the terminal end a command writes to,
// and the end the test reads from.
func openPTY(t *testing.T) (term, reader *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal end: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, m
}

// onTerminal runs a command whose stdout is a terminal and returns what
// the terminal shows.
func onTerminal(t *testing.T, env func(string) string, args ...string) string {
	t.Helper()
	term, reader := openPTY(t)
	var errb bytes.Buffer
	if code := run(t.Context(), args, term, &errb, env); code != 0 {
		t.Fatalf("%v on a terminal: exit %d: %s", args, code, errb.String())
	}
	// A marker ends the command's output; read up to it.
	fmt.Fprint(term, "\n--end--\n")
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for !strings.Contains(b.String(), "--end--") {
			n, err := reader.Read(buf)
			b.Write(buf[:n])
			if err != nil && err != io.EOF {
				break
			}
		}
		got <- b.String()
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(waitFor):
		t.Fatal("nothing read from the terminal")
		return ""
	}
}

// TestColour: colours on a terminal only, never with NO_COLOR set, never
// into a pipe or a file.
func TestColour(t *testing.T) {
	w := startWorker(t, "")
	w.fire(t, "db-primary-down", "db", outcome.Dispatched)
	const esc = "\x1b["
	if out := onTerminal(t, w.env(), "ls"); !strings.Contains(out, esc+"31;1mactive"+esc+"0m") || !strings.Contains(out, esc+"1mCODE") {
		t.Errorf("ls on a terminal has no colours: %q", out)
	}
	if out := onTerminal(t, w.env(), "show", "db-primary-down"); !strings.Contains(out, esc+"31mdispatched"+esc+"0m") {
		t.Errorf("show on a terminal has no colours: %q", out)
	}
	for _, v := range []string{"NO_COLOR=1", "TERM=dumb"} {
		if out := onTerminal(t, w.env(v), "ls"); strings.Contains(out, esc) || !strings.Contains(out, "active") {
			t.Errorf("ls on a terminal with %s: %q", v, out)
		}
	}
	for _, args := range [][]string{{"ls"}, {"show", "db-primary-down"}} {
		if r := cmd(t, w.env(), args...); strings.Contains(r.stdout, esc) {
			t.Errorf("%v into a buffer has colours: %q", args, r.stdout)
		}
	}
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	if code := run(t.Context(), []string{"ls"}, f, io.Discard, w.env()); code != 0 {
		t.Fatal(code)
	}
	f.Close()
	if b, _ := os.ReadFile(f.Name()); strings.Contains(string(b), esc) || !strings.Contains(string(b), "active") {
		t.Errorf("ls into a file: %q", b)
	}
}
