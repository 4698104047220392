// Command maxrss runs a command and writes its peak RSS, in bytes, to file
// descriptor 3; it exits with the command's status. The memory tests of
// cbtctl run the command through it: the peak RSS a process reports for its
// child counts the memory of the process that started it (an exec keeps the
// high-water mark of the memory it replaces, the parent's after a vfork), and
// a test binary is large where this program is small.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: maxrss COMMAND [ARG...] 3>RESULT")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "maxrss:", err)
		os.Exit(2)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "maxrss: no resource usage on this system")
		os.Exit(2)
	}
	result := os.NewFile(3, "result")
	if _, err := fmt.Fprintln(result, ru.Maxrss<<10); err != nil { // KiB on Linux
		fmt.Fprintln(os.Stderr, "maxrss:", err)
		os.Exit(2)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
