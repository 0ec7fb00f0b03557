package dispatch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// EnvReader reads a provider's environment variables for its Spec.Load,
// collecting every problem. Secrets may come from <NAME>_FILE instead.
type EnvReader struct {
	getenv func(string) string
	errs   []error
}

// NewEnvReader reads through getenv (nil: nothing is set).
func NewEnvReader(getenv func(string) string) *EnvReader {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return &EnvReader{getenv: getenv}
}

// Value returns the variable name, trimmed.
func (r *EnvReader) Value(name string) string { return strings.TrimSpace(r.getenv(name)) }

// URL returns the variable name without a trailing slash, or def when unset.
func (r *EnvReader) URL(name, def string) string {
	if v := r.Value(name); v != "" {
		return strings.TrimRight(v, "/")
	}
	return def
}

// Secret returns the credential name: its value, or the content of the file
// named by <name>_FILE (trimmed); setting both is a problem.
func (r *EnvReader) Secret(name string) Secret {
	v, file := r.getenv(name), r.getenv(name+"_FILE")
	switch {
	case v != "" && file != "":
		r.Fail(fmt.Errorf("load environment: both %s and %s_FILE are set; set one", name, name))
		return ""
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			// The path is not secret; the content never reaches this error.
			r.Fail(fmt.Errorf("load environment: read %s_FILE: %w", name, err))
			return ""
		}
		return Secret(strings.TrimSpace(string(b)))
	}
	return Secret(strings.TrimSpace(v))
}

// Bool returns the variable name as true or false (unset: false).
func (r *EnvReader) Bool(name string) bool {
	v := r.Value(name)
	if v == "" {
		return false
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		r.Fail(fmt.Errorf("load environment: %s must be true or false, got %q", name, v))
	}
	return on
}

// Fail records a problem.
func (r *EnvReader) Fail(err error) { r.errs = append(r.errs, err) }

// Err returns every problem recorded, joined, or nil.
func (r *EnvReader) Err() error { return errors.Join(r.errs...) }
