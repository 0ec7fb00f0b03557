package deploy

import (
	"debug/elf"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// build turns on TestStaticBinary, which builds the binary as deploy/Dockerfile
// does. A cold build takes minutes on a small machine, so it is opt-in:
//
//	go test ./deploy -run TestStaticBinary -args -build
var build = flag.Bool("build", false, "build cmd/escalator as the Dockerfile does and check that it is static")

// TestStaticBinary checks that the Dockerfile's build line gives a binary
// that runs on a distroless static image: no ELF interpreter, no shared
// libraries, the version stamped in, and the shipped policies valid.
func TestStaticBinary(t *testing.T) {
	if !*build {
		t.Skip("opt-in: go test ./deploy -run TestStaticBinary -args -build")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux")
	}
	bin := filepath.Join(t.TempDir(), "escalator")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v0.0.0-deploytest", "-o", bin, "./cmd/escalator")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}

	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v0.0.0-deploytest") {
		t.Errorf("escalator version = %q (%v), want the version from -ldflags", out, err)
	}
	check := exec.Command(bin, "policy", "check", "policies/")
	check.Dir = root
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("escalator policy check policies/ (the Dockerfile's check): %v\n%s", err, out)
	}
}
