package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The manifests are checked against the program's source: which variables
// it reads and which metrics it registers. The source is read, not
// imported, so that this package depends on no other.

// goFile is one parsed, non-test Go file.
type goFile struct {
	path string
	file *ast.File
}

// goFiles parses the non-test Go files of dir (and its subdirectories when
// recursive; testdata is skipped).
func goFiles(t *testing.T, dir string, recursive bool) []goFile {
	t.Helper()
	fset := token.NewFileSet()
	var out []goFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (!recursive || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out = append(out, goFile{path: p, file: f})
		return nil
	})
	if err != nil {
		t.Fatalf("parse %s: %v", dir, err)
	}
	if len(out) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return out
}

// literal is a string literal and, when it is an argument of a call to a
// plain function name, that name.
type literal struct {
	value string
	call  string
}

// stringLiterals returns every string literal under n.
func stringLiterals(n ast.Node) []literal {
	callOf := map[*ast.BasicLit]string{}
	var out []literal
	ast.Inspect(n, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			if id, ok := x.Fun.(*ast.Ident); ok {
				for _, a := range x.Args {
					if lit, ok := a.(*ast.BasicLit); ok {
						callOf[lit] = id.Name
					}
				}
			}
		case *ast.BasicLit:
			if x.Kind == token.STRING {
				if s, err := strconv.Unquote(x.Value); err == nil {
					out = append(out, literal{value: s, call: callOf[x]})
				}
			}
		}
		return true
	})
	return out
}

// hasPackageVar reports whether f declares a package-level variable name.
func (f goFile) hasPackageVar(name string) bool {
	for _, d := range f.file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if n.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// registeredMetrics returns the name of every Prometheus metric defined in
// internal/ and cmd/: each prometheus.*Opts literal gives Namespace,
// Subsystem and Name; where Name is not a literal (a helper builds the
// metric from its argument), the escalator_* literals passed to plain
// function calls within the same function are the names.
func registeredMetrics(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, dir := range []string{"internal", "cmd"} {
		for _, f := range goFiles(t, filepath.Join(root, dir), true) {
			for _, d := range f.file.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				dynamic := false
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					cl, ok := n.(*ast.CompositeLit)
					if !ok || !isPrometheusOpts(cl.Type) {
						return true
					}
					parts := map[string]string{}
					literalName := true
					for _, e := range cl.Elts {
						kv, ok := e.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						key, _ := kv.Key.(*ast.Ident)
						if key == nil {
							continue
						}
						switch key.Name {
						case "Namespace", "Subsystem", "Name":
							lit, ok := kv.Value.(*ast.BasicLit)
							if !ok {
								literalName = false
								continue
							}
							parts[key.Name], _ = strconv.Unquote(lit.Value)
						}
					}
					if !literalName {
						dynamic = true
						return true
					}
					var name []string
					for _, k := range []string{"Namespace", "Subsystem", "Name"} {
						if parts[k] != "" {
							name = append(name, parts[k])
						}
					}
					seen[strings.Join(name, "_")] = true
					return true
				})
				if dynamic {
					for _, lit := range stringLiterals(fn) {
						if lit.call != "" && metricNameRe(lit.value) {
							seen[lit.value] = true
						}
					}
				}
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func isPrometheusOpts(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "prometheus" && strings.HasSuffix(sel.Sel.Name, "Opts")
}

func metricNameRe(s string) bool {
	if !strings.HasPrefix(s, "escalator_") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
