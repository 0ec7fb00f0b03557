package deploy

import (
	"go/ast"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// flagRef is a flag named in text: --name.
var flagRef = regexp.MustCompile(`(?:^|[^-\w])--([a-z][a-z0-9-]*[a-z0-9])`)

// TestNamedFlagsExist: every --flag that the code names in a string (a
// metric's help, an error message, a log line) is a flag escalator has. A
// help text once told operators about a --retention that never existed.
func TestNamedFlagsExist(t *testing.T) {
	flags := definedFlags(t)
	if !flags["escalation-retention"] || !flags["http-token"] {
		t.Fatalf("found flags %v: the scan is broken", flags)
	}
	flags["help"], flags["version"] = true, true // every command has them
	for _, dir := range []string{"internal", "cmd"} {
		for _, f := range goFiles(t, filepath.Join(root, dir), true) {
			if strings.Contains(f.path, filepath.Join("internal", "systest")) {
				continue // the system tests start nats-server, with its flags
			}
			for _, lit := range stringLiterals(f.file) {
				for _, m := range flagRef.FindAllStringSubmatch(lit.value, -1) {
					if !flags[m[1]] {
						t.Errorf("%s names --%s, which is not a flag: %q", f.path, m[1], lit.value)
					}
				}
			}
		}
	}
}

// definedFlags are the names of every flag cmd/escalator defines:
// the first string argument of a flag.FlagSet's definition methods.
func definedFlags(t *testing.T) map[string]bool {
	t.Helper()
	methods := map[string]bool{}
	for _, m := range []string{"Bool", "BoolVar", "String", "StringVar", "Int", "IntVar", "Int64", "Int64Var",
		"Uint", "UintVar", "Float64", "Float64Var", "Duration", "DurationVar", "Func", "BoolFunc", "Var", "TextVar"} {
		methods[m] = true
	}
	out := map[string]bool{}
	for _, f := range goFiles(t, filepath.Join(root, "cmd", "escalator"), false) {
		ast.Inspect(f.file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !methods[sel.Sel.Name] {
				return true
			}
			for _, a := range call.Args {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						out[s] = true
					}
					break
				}
			}
			return true
		})
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("flags: %v", names)
	return out
}
