package faults

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain builds the real escalator binary once (without -race: it is the
// program under test, not the test) for the scenarios that kill it.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "escalator-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		goBin, err := exec.LookPath("go")
		if err != nil {
			fmt.Fprintln(os.Stderr, "faults: find the go command:", err)
			return 1
		}
		binPath = filepath.Join(dir, "escalator")
		build := exec.Command(goBin, "build", "-o", binPath, "github.com/escalator-oss/escalator/cmd/escalator")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "faults: build escalator:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// scanLog copies a worker's log lines to out and closes ready at the line
// saying it is ready.
func scanLog(r io.Reader, out io.Writer, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	said := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(out, line)
		if !said && strings.Contains(line, `"escalator ready"`) {
			said = true
			close(ready)
		}
	}
	// Drain whatever a too-long line left, so the process never blocks.
	_, _ = io.Copy(out, r)
}
