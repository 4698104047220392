package qemu

import "log/slog"

// Options tune how an image is opened. A nil *Options means the defaults.
type Options struct {
	// ForceShare opens an image that a running qemu holds for writing, which
	// otherwise gives cbt.ErrBusy. Only the snapshot tables of such an image
	// are reliable on disk (qemu never rewrites them in place); its active L1
	// and L2 tables and its dirty bitmaps are not (qemu caches them in memory
	// and marks bitmaps in_use). So a listing that would read the active
	// tables of a file held for writing still gives cbt.ErrBusy, and its
	// bitmaps are not usable as bases; listings between snapshots work. For a
	// running VM, use the libvirt checkpoint path.
	ForceShare bool
	// TrustUnguarded accepts change IDs without the guards this package
	// checks (see the package documentation, "Change IDs that cannot lie"):
	// a bare snapshot or bitmap name, a layer path without its modification
	// time, a change ID handed out before chain guards existed; and hands out
	// change IDs above backing files on block devices, which have no
	// modification time to guard them. Set it only when the names are never
	// reused and nothing writes below the points: a point deleted and made
	// again under the same name then silently hides every write made before
	// it. libvirt's checkpoints, which guard their bitmaps themselves, use it.
	TrustUnguarded bool
	// L2CacheBytes bounds the L2 table cache of each qcow2 file of the chain;
	// 0 means 32 MiB. Listings do not use it: they stream the tables they
	// need and hold at most 40 MiB of image metadata whatever the image, plus
	// one or two L2 tables per file of the chain (see the package
	// documentation, "Memory").
	L2CacheBytes int64
	// Logger receives debug records (chain resolution, lock checks); nil is
	// silent.
	Logger *slog.Logger
}
