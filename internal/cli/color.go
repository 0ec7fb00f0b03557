package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Colorful reports whether output to w should have colours: only when w is
// a terminal, never when NO_COLOR is set to anything (https://no-color.org)
// or TERM is "dumb". getenv nil means the process environment.
func Colorful(w io.Writer, getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}
