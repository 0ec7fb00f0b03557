package deploy

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// runtimeVars are variables the manifests may set that the Go runtime, not
// escalator, reads.
var runtimeVars = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true}

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

func TestKubernetesObjects(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var objectFiles []string
	for _, f := range files {
		name := filepath.Base(f)
		if !isObjectFile(name) {
			continue
		}
		objectFiles = append(objectFiles, name)
		for i, d := range docs(t, f) {
			for _, key := range [][]string{{"apiVersion"}, {"kind"}, {"metadata", "name"}} {
				if str(d, key...) == "" {
					t.Errorf("%s: document %d: no %s", f, i+1, strings.Join(key, "."))
				}
			}
		}
	}
	// The kustomization applies exactly the object files.
	k := docs(t, "kubernetes/kustomization.yaml")[0]
	if str(k, "kind") != "Kustomization" {
		t.Errorf("kustomization.yaml: kind %q, want Kustomization", str(k, "kind"))
	}
	var resources []string
	for _, r := range list(k, "resources") {
		s, _ := r.(string)
		resources = append(resources, s)
	}
	sort.Strings(resources)
	sort.Strings(objectFiles)
	if !slices.Equal(resources, objectFiles) {
		t.Errorf("kustomization.yaml resources = %v, want the object files %v", resources, objectFiles)
	}
}

// container returns the Deployment's escalator container.
func container(t *testing.T, dep map[string]any) map[string]any {
	t.Helper()
	for _, c := range list(dep, "spec", "template", "spec", "containers") {
		if str(c, "name") == "escalator" {
			return c.(map[string]any)
		}
	}
	t.Fatal("deployment: no container named escalator")
	return nil
}

// envOf returns a container's literal environment (name → value; "" for
// values from a Secret).
func envOf(c map[string]any) map[string]string {
	env := map[string]string{}
	for _, e := range list(c, "env") {
		env[str(e, "name")] = str(e, "value")
	}
	return env
}

func TestDeployment(t *testing.T) {
	objs := objects(t)
	dep := one(t, objs, "Deployment")
	c := container(t, dep)
	env := envOf(c)

	// The HTTP server listens on every interface, on the container port.
	addr := env["ESCALATOR_HTTP_ADDR"]
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("ESCALATOR_HTTP_ADDR=%q: %v", addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("ESCALATOR_HTTP_ADDR=%q: a pod must listen on every interface, not %q", addr, host)
	}
	ports := map[string]int{} // name → number
	httpPort := -1
	for _, p := range list(c, "ports") {
		n, _ := get(p, "containerPort").(int)
		ports[str(p, "name")] = n
		if strconv.Itoa(n) == port {
			httpPort = n
		}
	}
	if httpPort < 0 {
		t.Fatalf("no container port %s (ESCALATOR_HTTP_ADDR=%q); ports %v", port, addr, ports)
	}
	resolve := func(p any) int {
		switch x := p.(type) {
		case int:
			return x
		case string:
			if n, ok := ports[x]; ok {
				return n
			}
		}
		return -1
	}

	for _, tc := range []struct{ probe, path string }{
		{"livenessProbe", "/healthz"},
		{"readinessProbe", "/readyz"},
		{"startupProbe", "/healthz"},
	} {
		t.Run(tc.probe, func(t *testing.T) {
			if get(c, tc.probe) == nil {
				t.Fatalf("no %s", tc.probe)
			}
			if got := str(c, tc.probe, "httpGet", "path"); got != tc.path {
				t.Errorf("path %q, want %q", got, tc.path)
			}
			if got := resolve(get(c, tc.probe, "httpGet", "port")); got != httpPort {
				t.Errorf("port %v resolves to %d, want the HTTP port %d", get(c, tc.probe, "httpGet", "port"), got, httpPort)
			}
		})
	}

	// The Service reaches the same port, and selects the pods.
	svc := one(t, objs, "Service")
	sp := list(svc, "spec", "ports")
	if len(sp) == 0 || resolve(get(sp[0], "targetPort")) != httpPort {
		t.Errorf("service targetPort %v does not reach the HTTP port %d", get(sp, "0", "targetPort"), httpPort)
	}
	podLabels, _ := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for _, sel := range []map[string]any{
		asMap(get(svc, "spec", "selector")),
		asMap(get(one(t, objs, "PodDisruptionBudget"), "spec", "selector", "matchLabels")),
		asMap(get(dep, "spec", "selector", "matchLabels")),
	} {
		if len(sel) == 0 {
			t.Error("an empty selector")
		}
		for k, v := range sel {
			if podLabels[k] != v {
				t.Errorf("selector %s=%v does not match the pod labels %v", k, v, podLabels)
			}
		}
	}

	// Several replicas on a replicated NATS cluster.
	if n, _ := get(dep, "spec", "replicas").(int); n < 2 {
		t.Errorf("replicas = %d, want several", n)
	}
	if env["ESCALATOR_NATS_URL"] == "" {
		t.Error("ESCALATOR_NATS_URL is not set: the pods would each embed a server")
	}
	values := docs(t, "kubernetes/nats-values.yaml")[0]
	clusterReplicas, _ := get(values, "config", "cluster", "replicas").(int)
	if env["ESCALATOR_REPLICAS"] != strconv.Itoa(clusterReplicas) {
		t.Errorf("ESCALATOR_REPLICAS=%q, want the NATS cluster's %d servers", env["ESCALATOR_REPLICAS"], clusterReplicas)
	}

	// Shutdown: the pod's grace period covers the worker's.
	grace := defaultShutdownGrace
	if g := env["ESCALATOR_SHUTDOWN_GRACE"]; g != "" {
		if grace, err = time.ParseDuration(g); err != nil {
			t.Fatalf("ESCALATOR_SHUTDOWN_GRACE=%q: %v", g, err)
		}
	}
	tg, _ := get(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if time.Duration(tg)*time.Second <= 2*grace {
		t.Errorf("terminationGracePeriodSeconds = %d, want above twice the shutdown grace %s", tg, grace)
	}

	// Non-root, read-only, no capabilities, bounded resources.
	if get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true &&
		get(c, "securityContext", "runAsNonRoot") != true {
		t.Error("runAsNonRoot is not set")
	}
	if get(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if get(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if drop := list(c, "securityContext", "capabilities", "drop"); len(drop) != 1 || drop[0] != "ALL" {
		t.Errorf("capabilities.drop = %v, want [ALL]", drop)
	}
	for _, k := range [][]string{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "memory"}} {
		if get(c, append([]string{"resources"}, k...)...) == nil {
			t.Errorf("resources.%s is not set", strings.Join(k, "."))
		}
	}

	// The policies and credentials are mounted where the variables say.
	mounts := map[string]string{} // volume → mount path
	for _, m := range list(c, "volumeMounts") {
		mounts[str(m, "name")] = str(m, "mountPath")
	}
	volumes := map[string]any{}
	for _, v := range list(dep, "spec", "template", "spec", "volumes") {
		volumes[str(v, "name")] = v
	}
	var policiesVolume string
	for name, v := range volumes {
		if str(v, "configMap", "name") == "escalator-policies" {
			policiesVolume = name
		}
	}
	if policiesVolume == "" || mounts[policiesVolume] != env["ESCALATOR_POLICIES"] {
		t.Errorf("ESCALATOR_POLICIES=%q is not where the escalator-policies ConfigMap is mounted (%v)", env["ESCALATOR_POLICIES"], mounts)
	}
	secrets := map[string]map[string]any{}
	for _, s := range objs["Secret"] {
		secrets[str(s, "metadata", "name")] = s
	}
	files := map[string]bool{} // paths of files projected from Secrets
	for name, v := range volumes {
		sname := str(v, "secret", "secretName")
		if sname == "" {
			continue
		}
		s, ok := secrets[sname]
		if !ok {
			t.Errorf("volume %s: no Secret %s in deploy/kubernetes", name, sname)
			continue
		}
		for _, it := range list(v, "secret", "items") {
			if get(s, "stringData", str(it, "key")) == nil && get(s, "data", str(it, "key")) == nil {
				t.Errorf("volume %s: Secret %s has no key %s", name, sname, str(it, "key"))
			}
			files[filepath.Join(mounts[name], str(it, "path"))] = true
		}
	}
	for k, v := range env {
		if strings.HasSuffix(k, "_FILE") && !files[v] {
			t.Errorf("%s=%s: no such file is mounted from a Secret (%v)", k, v, files)
		}
	}
	for _, e := range list(c, "env") {
		if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
			s, ok := secrets[str(ref, "name")]
			if !ok || get(s, "stringData", str(ref, "key")) == nil && get(s, "data", str(ref, "key")) == nil {
				t.Errorf("%s: no key %s in Secret %s", str(e, "name"), str(ref, "key"), str(ref, "name"))
			}
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func TestNATSValues(t *testing.T) {
	v := docs(t, "kubernetes/nats-values.yaml")[0]
	for _, tc := range []struct {
		path []string
		want any
	}{
		{[]string{"config", "jetstream", "enabled"}, true},
		{[]string{"config", "jetstream", "fileStore", "enabled"}, true},
		{[]string{"config", "jetstream", "fileStore", "pvc", "enabled"}, true},
		{[]string{"config", "cluster", "enabled"}, true},
		{[]string{"config", "cluster", "replicas"}, 3},
	} {
		if got := get(v, tc.path...); got != tc.want {
			t.Errorf("%s = %v, want %v", strings.Join(tc.path, "."), got, tc.want)
		}
	}
	if str(v, "config", "jetstream", "fileStore", "pvc", "size") == "" {
		t.Error("config.jetstream.fileStore.pvc.size is not set")
	}
	// Message schedules (the engine's timers) need NATS 2.12.
	tag := str(v, "container", "image", "tag")
	m := regexp.MustCompile(`^(\d+)\.(\d+)`).FindStringSubmatch(tag)
	if m == nil {
		t.Fatalf("container.image.tag = %q: want a pinned version", tag)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 2 || major == 2 && minor < 12 {
		t.Errorf("container.image.tag = %q: escalator needs NATS 2.12 or newer", tag)
	}
}

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

func TestSystemdUnit(t *testing.T) {
	unit := parseUnit(t, "systemd/escalator.service")
	svc := unit["Service"]
	if svc == nil {
		t.Fatal("no [Service] section")
	}
	for _, s := range []string{"Unit", "Install"} {
		if unit[s] == nil {
			t.Errorf("no [%s] section", s)
		}
	}
	for _, kv := range []struct{ key, want string }{
		{"DynamicUser", "yes"},
		{"Restart", "on-failure"},
		{"StateDirectory", "escalator"},
		{"EnvironmentFile", "/etc/escalator/escalator.env"},
		{"KillSignal", "SIGTERM"},
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"ProtectKernelTunables", "yes"},
		{"ProtectKernelModules", "yes"},
		{"ProtectControlGroups", "yes"},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"RestrictNamespaces", "yes"},
		{"LockPersonality", "yes"},
		{"MemoryDenyWriteExecute", "yes"},
		{"SystemCallFilter", "@system-service"},
		{"CapabilityBoundingSet", ""},
	} {
		vals, ok := svc[kv.key]
		if !ok || !slices.Contains(vals, kv.want) {
			t.Errorf("[Service] %s = %q, want %q", kv.key, vals, kv.want)
		}
	}
	if r := strings.Join(svc["ExecReload"], " "); !strings.Contains(r, "-HUP") || !strings.Contains(r, "$MAINPID") {
		t.Errorf("ExecReload = %q, want a SIGHUP to $MAINPID", r)
	}
	if s := strings.Join(svc["ExecStart"], " "); !strings.HasSuffix(strings.Fields(s)[0], "/escalator") || !strings.Contains(s, " run") {
		t.Errorf("ExecStart = %q, want escalator run", s)
	}
	// The stop timeout covers the worker's graceful shutdown.
	grace := defaultShutdownGrace
	for _, line := range envFileLines(t, "systemd/escalator.env") {
		if line.name == "ESCALATOR_SHUTDOWN_GRACE" && !line.commented {
			grace, _ = time.ParseDuration(line.value)
		}
	}
	stop, err := time.ParseDuration(strings.Join(svc["TimeoutStopSec"], ""))
	if err != nil || stop <= 2*grace {
		t.Errorf("TimeoutStopSec = %q, want above twice the shutdown grace %s", svc["TimeoutStopSec"], grace)
	}
	// The data directory is the state directory.
	var dataDir string
	for _, e := range unitEnv(svc["Environment"]) {
		if e[0] == "ESCALATOR_DATA_DIR" {
			dataDir = e[1]
		}
	}
	if dataDir != "/var/lib/escalator" {
		t.Errorf("ESCALATOR_DATA_DIR = %q, want the StateDirectory /var/lib/escalator", dataDir)
	}
}

// parseUnit reads a systemd unit: section → key → values (a key may repeat).
// Commented lines are skipped, except that "#Key=value" lines of known
// examples are kept under "#Key".
func parseUnit(t *testing.T, file string) map[string]map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]string{}
	var section string
	keyRe := regexp.MustCompile(`^#?([A-Za-z][A-Za-z0-9]*)=(.*)$`)
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if out[section] != nil {
				t.Errorf("%s:%d: section [%s] twice", file, i+1, section)
			}
			out[section] = map[string][]string{}
		case strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			if m := keyRe.FindStringSubmatch(line); m != nil && section != "" && line[0] == '#' {
				out[section]["#"+m[1]] = append(out[section]["#"+m[1]], m[2])
			}
		default:
			m := keyRe.FindStringSubmatch(line)
			if m == nil || section == "" {
				t.Errorf("%s:%d: not a key=value line in a section: %q", file, i+1, line)
				continue
			}
			out[section][m[1]] = append(out[section][m[1]], m[2])
		}
	}
	return out
}

// unitEnv splits Environment= values into name, value pairs.
func unitEnv(vals []string) [][2]string {
	var out [][2]string
	for _, v := range vals {
		for _, f := range strings.Fields(v) {
			name, value, _ := strings.Cut(strings.Trim(f, `"`), "=")
			out = append(out, [2]string{name, value})
		}
	}
	return out
}

type envLine struct {
	name, value string
	commented   bool
}

// envFileLines returns the variables an environment file sets, or shows
// commented out ("#NAME=value").
func envFileLines(t *testing.T, file string) []envLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(#?)([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	var out []envLine
	for i, line := range strings.Split(string(b), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			out = append(out, envLine{name: m[2], value: m[3], commented: m[1] == "#"})
		} else if line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("%s:%d: neither a comment nor NAME=value: %q", file, i+1, line)
		}
	}
	return out
}

func TestEnvironmentVariablesAreKnown(t *testing.T) {
	flagVars, providerVars := knownVariables(t)
	t.Logf("variables of the flags: %v; of the providers: %v", sortedKeys(flagVars), sortedKeys(providerVars))
	known := map[string]bool{}
	for v := range flagVars {
		known[v] = true
	}
	for v := range providerVars {
		known[v] = true
	}

	set := map[string][]string{} // variable → where it is set
	for _, l := range envFileLines(t, "systemd/escalator.env") {
		set[l.name] = append(set[l.name], "systemd/escalator.env")
	}
	unit := parseUnit(t, "systemd/escalator.service")
	for _, key := range []string{"Environment", "#Environment"} {
		for _, e := range unitEnv(unit["Service"][key]) {
			set[e[0]] = append(set[e[0]], "systemd/escalator.service")
		}
	}
	objs := objects(t)
	for name := range envOf(container(t, one(t, objs, "Deployment"))) {
		set[name] = append(set[name], "kubernetes/deployment.yaml")
	}
	for _, l := range dockerfile(t) {
		if l.instr == "ENV" {
			for _, f := range strings.Fields(strings.ReplaceAll(l.args, `\`, " ")) {
				name, _, _ := strings.Cut(f, "=")
				set[name] = append(set[name], "Dockerfile")
			}
		}
	}
	for name, where := range set {
		if !known[name] && !runtimeVars[name] {
			t.Errorf("%s (set in %v) is not a variable escalator reads", name, where)
		}
	}
	// The example environment file shows every variable there is.
	inFile := map[string]bool{}
	for _, l := range envFileLines(t, "systemd/escalator.env") {
		inFile[l.name] = true
	}
	for v := range known {
		if !inFile[v] {
			t.Errorf("systemd/escalator.env does not mention %s", v)
		}
	}
}

var (
	flagVarRe     = regexp.MustCompile(`^ESCALATOR_[A-Z0-9_]+$`)
	providerVarRe = regexp.MustCompile(`^(IOTCALL|YEMOT|CCAI)_[A-Z0-9_]+$`)
)

// knownVariables asks the code which variables it reads: the ESCALATOR_*
// names bound to the flags of cmd/escalator, and the provider names read
// by internal/dispatch (each credential read through secret() also as
// <NAME>_FILE).
func knownVariables(t *testing.T) (flagVars, providerVars map[string]bool) {
	t.Helper()
	flagVars, providerVars = map[string]bool{}, map[string]bool{}
	for _, f := range goFiles(t, filepath.Join(root, "cmd", "escalator"), false) {
		for _, lit := range stringLiterals(f.file) {
			if flagVarRe.MatchString(lit.value) {
				flagVars[lit.value] = true
			}
		}
	}
	for _, f := range goFiles(t, filepath.Join(root, "internal", "dispatch"), false) {
		for _, lit := range stringLiterals(f.file) {
			if providerVarRe.MatchString(lit.value) {
				providerVars[lit.value] = true
				if lit.call == "secret" {
					providerVars[lit.value+"_FILE"] = true
				}
			}
		}
	}
	for _, want := range []string{"ESCALATOR_NATS_URL", "ESCALATOR_HTTP_ADDR", "ESCALATOR_SHUTDOWN_GRACE"} {
		if !flagVars[want] {
			t.Fatalf("found no %s in cmd/escalator: the scan is broken (found %v)", want, flagVars)
		}
	}
	for _, want := range []string{"IOTCALL_AUTH_CODE", "IOTCALL_AUTH_CODE_FILE", "CCAI_BASE_URL"} {
		if !providerVars[want] {
			t.Fatalf("found no %s in internal/dispatch: the scan is broken (found %v)", want, providerVars)
		}
	}
	return flagVars, providerVars
}

type dockerLine struct{ instr, args string }

// dockerfile returns the Dockerfile's instructions, continuation lines joined.
func dockerfile(t *testing.T) []dockerLine {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerLine
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		cur += " " + trimmed
		if strings.HasSuffix(trimmed, `\`) {
			cur = strings.TrimSuffix(cur, `\`)
			continue
		}
		instr, args, _ := strings.Cut(strings.TrimSpace(cur), " ")
		out = append(out, dockerLine{strings.ToUpper(instr), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

func TestDockerfile(t *testing.T) {
	lines := dockerfile(t)
	var froms []string
	var user, entrypoint, expose, build string
	for _, l := range lines {
		switch l.instr {
		case "FROM":
			froms = append(froms, l.args)
			user = "" // USER is per stage
		case "USER":
			user = l.args
		case "ENTRYPOINT":
			entrypoint = l.args
		case "EXPOSE":
			expose = l.args
		case "RUN":
			if strings.Contains(l.args, "go build") {
				build = l.args
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM lines %q: want a multi-stage build", froms)
	}
	if !strings.HasPrefix(froms[0], "golang:1.26") || !strings.Contains(froms[0], " AS ") {
		t.Errorf("first stage %q: want a named golang:1.26 build stage", froms[0])
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("final stage USER %q: want a non-root user", user)
	}
	if entrypoint != `["/escalator", "run"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/escalator\", \"run\"]", entrypoint)
	}
	if expose != "8080" {
		t.Errorf("EXPOSE %q, want 8080", expose)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version="} {
		if !strings.Contains(build, want) {
			t.Errorf("go build line %q lacks %s", build, want)
		}
	}
	// -X main.version needs the variable.
	found := false
	for _, f := range goFiles(t, filepath.Join(root, "cmd", "escalator"), false) {
		if f.hasPackageVar("version") {
			found = true
		}
	}
	if !found {
		t.Error("cmd/escalator has no package variable version for -X main.version")
	}
}

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

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
