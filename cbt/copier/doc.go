// Package copier is the SDK's one copy engine: it copies what a *cbt.Disk
// lists (the changes since a base, or everything allocated for a full
// backup) from the disk's point to a Destination, with parallel readers,
// bounded memory, zero detection, progress, cancellation, resumption and
// optional per-chunk SHA-256 checksums. Platform packages never copy by
// themselves; every platform whose Disk reads (cbt.Disk.Readable) is copied
// by this package.
//
// # How a copy runs
//
// Copy lists first (with the destination's alignment, so that every write
// is whole blocks of the destination: reading a little more of the source
// at the same point is always correct). Where the disk says whole
// destination blocks of what was listed read as zeros (cbt.Disk.Zeros: qcow2
// zero clusters, preallocated clusters in holes, areas nothing maps), they
// are written as zeros without a read (Options.NoZeroAreas reads them). The
// rest is cut into chunks of at most Options.ChunkSize on a grid of that
// size and handed to Options.Workers readers. Each worker reads its chunk with cbt.Disk.ReadAt
// into one of Workers buffers (the memory bound: Workers × ChunkSize, plus
// the listing, 16 bytes an extent), splits it into runs of destination
// blocks that are all zeros and runs that hold data, and writes them:
// Destination.WriteZeros for the first, Destination.WriteAt for the second.
// A read that fails with cbt.ErrBusy is tried again (Options.Retries times,
// with a growing pause); any other error cancels the copy.
//
// # Resuming
//
// Result.Resume (also in every Progress report) is the offset below which
// every listed byte has been written to the destination: chunks finish out
// of order, and it advances only over a run of finished chunks. A copy that
// failed or was cancelled is continued by calling Copy again with the same
// disk point, base and destination, and Options.StartOffset set to the
// Resume offset stored before (after making the destination's writes
// durable, for a file: Sync). What was written past it is written again.
//
// # Destinations
//
// A Destination takes whole blocks of its Alignment: ToWriterAt adapts an
// io.WriterAt (a raw sparse file, a block device; zero runs are written as
// zeros, or as holes where the file system punches them), and package
// backup writes qcow2 backup files.
package copier
