package deploy

import (
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
