package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestDemoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo (a few seconds)")
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--timeout", "45s"}, &out, &errb, nil); code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "demo complete") {
		t.Errorf("demo output lacks its last line:\n%s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"demo", "--timeout", "1ms"}, &out, &errb, nil); code != 1 {
		t.Errorf("a demo that cannot finish in 1ms exited %d, want 1", code)
	}
}
