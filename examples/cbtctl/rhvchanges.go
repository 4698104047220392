package main

import (
	"context"
	"fmt"
	"io"
)

// rhvChangesCommand is not built yet.
func rhvChangesCommand() command {
	return command{name: "todo-rhvchanges", synopsis: "not built yet", run: func(_ context.Context, _ []string, _, stderr io.Writer) int {
		fmt.Fprintln(stderr, "not built yet")
		return exitUsage
	}}
}
