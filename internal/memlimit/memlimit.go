// Package memlimit sets the Go runtime's soft memory limit for the worker
// (and the nats-server it embeds, which shares the process).
//
// By default the Go collector lets the heap grow to twice what is live
// before it collects: a worker with 100k escalations waiting held about
// 300 MiB live and 670 to 890 MiB resident. A soft limit makes the
// collector work harder as the process nears it instead (the runtime caps
// that work at about half the CPU, so a heap that needs more than the limit
// still grows: the limit is soft). The default, "auto", is 90 % of the
// container's memory limit (cgroup v2 memory.max, or v1
// memory.limit_in_bytes) when there is one, else DefaultLimit; GOMEMLIMIT,
// when set, is the runtime's own setting and is left as it is.
package memlimit

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultLimit is the soft limit when there is no container limit: enough
// for some 100k escalations waiting (docs/benchmarks.md), small enough that
// a worker on a shared machine stays near what it needs. Raise it (or set
// --memory-limit off) for more waiting escalations than that: past it the
// collector runs often.
const DefaultLimit = 360 << 20

// cgroupShare is the part of a container's memory limit given to the Go
// runtime: the rest is for memory it does not manage and for the kernel's
// page cache of the store.
const cgroupShare = 0.9

// Files where the container's memory limit is read (variables for tests).
var (
	cgroupV2 = "/sys/fs/cgroup/memory.max"
	cgroupV1 = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
)

// Setting is what Apply did: the limit in bytes (0: none, the runtime's
// default) and where it came from, for the log.
type Setting struct {
	Bytes int64
	From  string
}

// Apply sets the soft memory limit that spec asks for: "auto" (or ""),
// "off", or a size as GOMEMLIMIT takes it ("512MiB", "1GiB", bytes).
// getenv reads GOMEMLIMIT (nil: the process environment): set, it wins
// over "auto".
func Apply(spec string, getenv func(string) string) (Setting, error) {
	s, err := Choose(spec, getenv)
	if err != nil {
		return Setting{}, err
	}
	switch {
	case s.From == "GOMEMLIMIT":
		// The runtime read it at start.
	case s.Bytes > 0:
		debug.SetMemoryLimit(s.Bytes)
	default:
		debug.SetMemoryLimit(math.MaxInt64)
	}
	return s, nil
}

// Choose is Apply without applying it.
func Choose(spec string, getenv func(string) string) (Setting, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	spec = strings.TrimSpace(spec)
	switch strings.ToLower(spec) {
	case "off", "none":
		return Setting{From: "--memory-limit off"}, nil
	case "", "auto":
		if v := getenv("GOMEMLIMIT"); v != "" {
			n, err := Parse(v)
			if err != nil {
				return Setting{}, fmt.Errorf("GOMEMLIMIT: %w", err)
			}
			return Setting{Bytes: n, From: "GOMEMLIMIT"}, nil
		}
		if n, ok := containerLimit(); ok {
			return Setting{Bytes: int64(float64(n) * cgroupShare), From: "90% of the container's memory limit"}, nil
		}
		return Setting{Bytes: DefaultLimit, From: "the default (no container memory limit)"}, nil
	}
	n, err := Parse(spec)
	if err != nil {
		return Setting{}, fmt.Errorf("--memory-limit: %w", err)
	}
	if n == 0 {
		return Setting{From: "--memory-limit 0"}, nil
	}
	return Setting{Bytes: n, From: "--memory-limit"}, nil
}

// Parse reads a size as GOMEMLIMIT takes it: a number of bytes with an
// optional unit B, KiB, MiB, GiB or TiB.
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is not a size: a number of bytes with B, KiB, MiB, GiB or TiB (e.g. 512MiB)", s)
	}
	return n << shift, nil
}

// containerLimit reads the memory limit of the process's cgroup, if any.
func containerLimit() (int64, bool) {
	for _, f := range []string{cgroupV2, cgroupV1} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		// cgroup v1 says "no limit" with a huge number (page-rounded
		// MaxInt64).
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
