package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEveryMetricIsDocumented(t *testing.T) {
	names := registeredMetrics(t)
	if len(names) < 20 {
		t.Fatalf("found only %d metrics in the code (%v): the scan is broken", len(names), names)
	}
	t.Logf("%d metrics in the code: %v", len(names), names)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "escalator_") {
			t.Errorf("metric %s: want the escalator_ prefix", n)
		}
		if !bytes.Contains(doc, []byte("`"+n+"`")) {
			t.Errorf("docs/operations.md does not explain the metric `%s`", n)
		}
	}
}
