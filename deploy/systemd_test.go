package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

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
