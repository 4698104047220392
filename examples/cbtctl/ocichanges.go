package main

import (
	"context"
	"fmt"
	"io"
)

// ociChangesCommand is not built yet.
func ociChangesCommand() command {
	return command{name: "todo-ocichanges", synopsis: "not built yet", run: func(_ context.Context, _ []string, _, stderr io.Writer) int {
		fmt.Fprintln(stderr, "not built yet")
		return exitUsage
	}}
}
