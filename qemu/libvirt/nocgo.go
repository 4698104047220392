//go:build !cgo

package libvirt

// This package is a binding of libvirt's C library (libvirt.org/go/libvirt)
// and needs cgo. Without cgo, importing it fails to compile on purpose, with
// an error whose identifier says how to build it:
//
//	CGO_ENABLED=1 with libvirt's headers and pkg-config installed
//	(Debian: apt-get install libvirt-dev pkg-config gcc), or
//	CGO_ENABLED=1 go build -tags libvirt_dlopen (no headers needed: it
//	loads libvirt.so.0 at run time).
//
// A program that must also build without cgo puts its use of this package
// behind a //go:build cgo constraint (as examples/cbtctl does).
var _ = qemu_libvirt_needs_cgo__build_with_CGO_ENABLED_1_and_libvirt_dev_and_pkg_config__or_with_tags_libvirt_dlopen
