package deploy

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/providers"
)

// runtimeVars are variables the manifests may set that the Go runtime, not
// escalator, reads.
var runtimeVars = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true}

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
	// The providers say which variables they read (dispatch.Spec.Vars); a
	// secret may also come from a file named by <NAME>_FILE.
	for _, spec := range providers.All {
		for _, v := range spec.Vars() {
			if !providerVarRe.MatchString(v.Name) {
				t.Errorf("%s reads %s: a provider's variables start with its name in capitals", spec.Name(), v.Name)
			}
			providerVars[v.Name] = true
			if v.Secret {
				providerVars[v.Name+"_FILE"] = true
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
			t.Fatalf("no provider reads %s (found %v)", want, providerVars)
		}
	}
	return flagVars, providerVars
}
