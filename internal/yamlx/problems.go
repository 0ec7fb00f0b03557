package yamlx

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong in a YAML file, with where it is.
type Problem struct {
	// File is the file's path (or the name it was given).
	File string `json:"file"`
	// Line and Column locate the offending YAML node, from 1 (0: unknown).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Path is the YAML path within the document, e.g. "steps[2].wait".
	Path string `json:"path,omitempty"`
	// Msg says what is wrong.
	Msg string `json:"msg"`
}

// String formats the problem as "file:line:col: path: msg".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a set of files. As an error, it joins
// the problems one a line.
type Problems []Problem

// Error returns the problems, one a line, in file and line order.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are no problems.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	ps.Sort()
	return ps
}

// Sort orders the problems by file, line, column and path.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Path < b.Path
	})
}
