package main

import (
	"context"
	"fmt"
	"io"
)

// rhvChainCommand is not built yet.
func rhvChainCommand() command {
	return command{name: "todo-rhvchain", synopsis: "not built yet", run: func(_ context.Context, _ []string, _, stderr io.Writer) int {
		fmt.Fprintln(stderr, "not built yet")
		return exitUsage
	}}
}
