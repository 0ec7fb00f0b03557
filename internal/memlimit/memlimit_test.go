package memlimit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "512MiB", want: 512 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "400 MiB", want: 400 << 20},
		{in: "1000", want: 1000},
		{in: "7B", want: 7},
		{in: "2KiB", want: 2048},
		{in: "1.5GiB", bad: true},
		{in: "512MB", bad: true},
		{in: "-1", bad: true},
		{in: "9999999TiB", bad: true},
	} {
		got, err := Parse(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d (bad: %t)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestChoose(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	none := filepath.Join(dir, "absent")
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tt := range []struct {
		name, spec, v2, v1 string
		env                func(string) string
		want               int64
		from               string
		bad                string
	}{
		{name: "no container limit", spec: "auto", v2: none, v1: none, env: env(), want: DefaultLimit, from: "the default"},
		{name: "cgroup v2", spec: "", v2: write("v2", "1073741824\n"), v1: none, env: env(), want: 1073741824 * 9 / 10, from: "90%"},
		{name: "cgroup v2 without a limit", spec: "auto", v2: write("v2max", "max\n"), v1: none, env: env(), want: DefaultLimit, from: "the default"},
		{name: "cgroup v1 without a limit", spec: "auto", v2: none, v1: write("v1", "9223372036854771712\n"), env: env(), want: DefaultLimit, from: "the default"},
		{name: "cgroup v1", spec: "auto", v2: none, v1: write("v1l", "536870912\n"), env: env(), want: 536870912 * 9 / 10, from: "90%"},
		{name: "GOMEMLIMIT wins over auto", spec: "auto", v2: write("v2b", "1073741824\n"), v1: none, env: env("GOMEMLIMIT", "200MiB"), want: 200 << 20, from: "GOMEMLIMIT"},
		{name: "the flag wins over GOMEMLIMIT", spec: "1GiB", v2: none, v1: none, env: env("GOMEMLIMIT", "200MiB"), want: 1 << 30, from: "--memory-limit"},
		{name: "off", spec: "off", v2: none, v1: none, env: env(), want: 0, from: "off"},
		{name: "a bad flag", spec: "lots", v2: none, v1: none, env: env(), bad: "--memory-limit"},
		{name: "a bad GOMEMLIMIT", spec: "auto", v2: none, v1: none, env: env("GOMEMLIMIT", "big"), bad: "GOMEMLIMIT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cgroupV2, cgroupV1 = tt.v2, tt.v1
			s, err := Choose(tt.spec, tt.env)
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("Choose: %+v, %v; want an error naming %s", s, err, tt.bad)
				}
				return
			}
			if err != nil || s.Bytes != tt.want || !strings.Contains(s.From, tt.from) {
				t.Fatalf("Choose = %+v, %v; want %d from %q", s, err, tt.want, tt.from)
			}
		})
	}
}
