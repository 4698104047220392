package main

import (
	"context"
	"fmt"
	"io"
)

// scsiLBAStatusCommand is not built yet.
func scsiLBAStatusCommand() command {
	return command{name: "todo-scsilba", synopsis: "not built yet", run: func(_ context.Context, _ []string, _, stderr io.Writer) int {
		fmt.Fprintln(stderr, "not built yet")
		return exitUsage
	}}
}
