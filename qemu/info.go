package qemu

// What the package reports of an image: Info (the header and its chain, as
// `qemu-img info` shows it), and the Layer, Snapshot and Bitmap entries that
// Image.Info, Image.Snapshots and Image.Bitmaps return.

import "time"

// Info describes an opened image: what `qemu-img info` shows of it.
type Info struct {
	Path          string // the path the image was opened with, made absolute
	Format        string // "qcow2"
	Version       int    // 2 or 3
	Compat        string // "0.10" (version 2) or "1.1" (version 3)
	VirtualSize   int64  // bytes
	ClusterSize   int64  // bytes
	ExtendedL2    bool
	LazyRefcounts bool
	Dirty         bool   // incompatible bit 0: refcounts may be stale
	Compression   string // "zlib" or "zstd"
	Encryption    string // "" (none), "aes" or "luks"; metadata is readable either way
	RefcountBits  int
	BackingFile   string // as the header records it, "" if none
	BackingFormat string // as the header extension records it, "" if absent
	DataFile      string // external data file name, "" if none
	// BitmapsConsistent is false when the image has bitmaps that a program
	// without bitmap support may have invalidated (autoclear bit 0 clear).
	BitmapsConsistent bool
	Snapshots         int // number of internal snapshots
	Bitmaps           int // number of persistent dirty bitmaps
	// Chain is the backing chain, this image first.
	Chain []Layer
}

// Layer is one file of a backing chain.
type Layer struct {
	Path        string // absolute path of the file
	Name        string // the name the overlay records ("" for the top image)
	Format      string // "qcow2" or "raw"
	VirtualSize int64  // bytes: the qcow2 size, or the raw file's size
	Depth       int    // 0 for the top image, 1 for its backing file, ...
	// Point is the point a backup taken at this layer stores: "layer:" and the
	// path, guarded by the file's modification time (a layer written to since,
	// by a commit for instance, no longer matches). The top image is still
	// written and names no fixed point: its Point is Active().
	Point Point
}

// Snapshot is one internal snapshot: what `qemu-img snapshot -l` shows.
type Snapshot struct {
	ID          string
	Name        string
	Date        time.Time
	VMClock     time.Duration // guest run time at the snapshot
	VMStateSize int64         // bytes of saved VM state; 0 for a disk-only snapshot
	DiskSize    int64         // virtual disk size at the snapshot
	ICount      int64         // record/replay instruction count, -1 if none
	// Point is the point a backup taken from this snapshot stores: it names
	// the snapshot and guards against a later snapshot of the same name.
	Point Point
}

// Bitmap is one persistent dirty bitmap: what `qemu-img info` shows, and
// whether it can serve as a base.
type Bitmap struct {
	Name        string
	Granularity int64    // bytes one bit covers
	Flags       []string // "in-use", "auto" (enabled), as qemu-img names them
	InUse       bool     // not saved correctly: qemu crashed or holds the image
	Enabled     bool     // records every write (flag "auto")
	// Usable says whether Changes can start from this bitmap; when it is
	// false, Reason says why and what to do (a full backup, usually).
	Usable bool
	Reason string
}
