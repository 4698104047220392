//go:build !cgo

package main

import (
	"context"
	"fmt"
	"io"
)

// libvirtCommand: without cgo there is no libvirt binding.
func libvirtCommand() command {
	return command{
		name:     "libvirt",
		synopsis: "running qemu/KVM guests through libvirt (needs a cgo build)",
		run: func(_ context.Context, _ []string, _, stderr io.Writer) int {
			fmt.Fprintln(stderr, "cbtctl libvirt: this cbtctl was built without cgo; build it with CGO_ENABLED=1 (and libvirt-dev, or -tags libvirt_dlopen)")
			return exitError
		},
	}
}
