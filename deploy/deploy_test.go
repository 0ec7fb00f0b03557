package deploy

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// update rewrites the generated files (the policies ConfigMap) instead of
// checking them: go test ./deploy -run TestPoliciesConfigMap -update
var update = flag.Bool("update", false, "rewrite kubernetes/policies-configmap.yaml from policies/*.yaml")

const (
	// root is the repository root, seen from this package's directory.
	root = ".."
	// defaultShutdownGrace is app.Defaults().ShutdownGrace (--shutdown-grace),
	// for manifests that do not set ESCALATOR_SHUTDOWN_GRACE.
	defaultShutdownGrace = 10 * time.Second
	policiesConfigMap    = "kubernetes/policies-configmap.yaml"
)

// yamlFiles returns every YAML file under deploy/.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk deploy/: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("no YAML files under deploy/")
	}
	return files
}

// docs decodes every document of a YAML file.
func docs(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", file, len(out)+1, err)
		}
		if doc != nil {
			out = append(out, doc)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no YAML document", file)
	}
	return out
}

// get walks a decoded document by keys (map keys, or list indexes).
func get(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

// isObjectFile reports whether a file under kubernetes/ holds Kubernetes
// objects (the chart values and the kustomization are not objects).
func isObjectFile(name string) bool {
	return name != "nats-values.yaml" && name != "kustomization.yaml"
}

// objects returns every Kubernetes object of deploy/kubernetes by kind.
func objects(t *testing.T) map[string][]map[string]any {
	t.Helper()
	files, _ := filepath.Glob("kubernetes/*.yaml")
	out := map[string][]map[string]any{}
	for _, f := range files {
		if !isObjectFile(filepath.Base(f)) {
			continue
		}
		for _, d := range docs(t, f) {
			out[str(d, "kind")] = append(out[str(d, "kind")], d)
		}
	}
	return out
}

func one(t *testing.T, objs map[string][]map[string]any, kind string) map[string]any {
	t.Helper()
	if len(objs[kind]) != 1 {
		t.Fatalf("want one %s in deploy/kubernetes, got %d", kind, len(objs[kind]))
	}
	return objs[kind][0]
}

func TestEveryYAMLFileParses(t *testing.T) {
	for _, f := range yamlFiles(t) {
		t.Run(f, func(t *testing.T) { docs(t, f) })
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
