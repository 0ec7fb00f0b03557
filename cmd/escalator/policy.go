package main

import (
	"context"
	"fmt"
	"io"
)

// policyCommand runs `escalator policy <check|simulate> ...`. It returns the
// process exit code. (Filled in by the policy issue.)
func policyCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "escalator policy: not implemented yet")
	return 2
}
