package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
