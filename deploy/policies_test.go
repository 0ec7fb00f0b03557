package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// policyFiles returns the contents of policies/*.yaml by file name.
func policyFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "policies", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no policies/*.yaml: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestPoliciesConfigMap(t *testing.T) {
	want := policyFiles(t)
	if *update {
		b, err := renderPoliciesConfigMap(want)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(policiesConfigMap, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := docs(t, policiesConfigMap)
	if len(d) != 1 || str(d[0], "kind") != "ConfigMap" || str(d[0], "metadata", "name") != "escalator-policies" {
		t.Fatalf("%s: want one ConfigMap escalator-policies", policiesConfigMap)
	}
	data := asMap(get(d[0], "data"))
	stale := false
	for name, b := range want {
		got, ok := data[name].(string)
		if !ok || got != string(b) {
			t.Errorf("%s: data[%q] differs from policies/%s", policiesConfigMap, name, name)
			stale = true
		}
	}
	for name := range data {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: data[%q] is not in policies/", policiesConfigMap, name)
			stale = true
		}
	}
	if stale {
		t.Log("regenerate it: go test ./deploy -run TestPoliciesConfigMap -update")
	}
}

// renderPoliciesConfigMap writes the ConfigMap of the example policies, each
// file as a literal block (a quoted string when a block cannot hold it
// byte for byte).
func renderPoliciesConfigMap(files map[string][]byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`# The example policies of policies/, byte for byte. Generated: edit the files
# in policies/, then run
#   go test ./deploy -run TestPoliciesConfigMap -update
# (the test fails while this copy differs). For your own policies, replace
# this file, or create the ConfigMap from a directory:
#   kubectl -n escalator create configmap escalator-policies --from-file=my-policies/ --dry-run=client -o yaml
# Check them first: escalator policy check --strict my-policies/
apiVersion: v1
kind: ConfigMap
metadata:
  name: escalator-policies
  labels:
    app.kubernetes.io/name: escalator
data:
`)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		content := string(files[n])
		entry := literalEntry(n, content)
		var probe map[string]string
		if err := yaml.Unmarshal([]byte(entry), &probe); err != nil || probe[n] != content {
			q, err := yaml.Marshal(map[string]string{n: content})
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", n, err)
			}
			entry = indent(string(q), "  ")
		}
		b.WriteString(entry)
	}
	return b.Bytes(), nil
}

// literalEntry is `  name: |` and content indented by four spaces, with the
// chomping indicator that keeps its final line breaks.
func literalEntry(name, content string) string {
	trimmed := strings.TrimRight(content, "\n")
	chomp := "" // one final line break
	switch {
	case len(content)-len(trimmed) == 0:
		chomp = "-"
	case len(content)-len(trimmed) > 1:
		chomp = "+"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %s: |%s\n", name, chomp)
	for _, line := range strings.Split(trimmed, "\n") {
		if line == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("    " + line + "\n")
	}
	for i := 1; i < len(content)-len(trimmed); i++ {
		b.WriteString("\n")
	}
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
