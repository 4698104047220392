// Package qcow2write writes qcow2 version 3 images from guest clusters: a
// standalone image, or an overlay whose unwritten clusters read from a
// backing file. It is the codec the SDK's backup files are made with; it
// holds no policy (which clusters to write, where the backing file lives,
// what a backup is) and never opens, reads or changes any other image.
//
// # What it writes
//
// A Writer takes whole guest clusters in any order, from any number of
// goroutines: data (stored as it is, or compressed with zlib or zstd when
// that makes it smaller than a cluster) and zero clusters (the version 3 zero
// flag, no host cluster: in an overlay they hide what the backing file holds
// there). Clusters never written are unallocated: they read as zeros in a
// standalone image and from the backing file in an overlay.
//
// Data goes to the end of the file as it comes; compressed clusters are
// packed several to a host cluster. The tables (L2 tables, the L1 table, the
// refcount table and its blocks) and the header are written by Close, the
// header last: until Close has returned nil, the file does not start with
// the qcow2 magic, so a file left by a crash or an error is never taken for
// an image. The images pass `qemu-img check` with no error and no leak;
// refcounts are 16 bits, every cluster's refcount is exact, and the
// OFLAG_COPIED bits are set as qemu sets them.
//
// # Limits
//
// Cluster sizes from 512 bytes to 2 MiB (default 64 KiB), virtual sizes up to
// what an L1 table of 32 MiB maps. A backing file name of at most 1023 bytes,
// recorded as given (make it relative to the overlay for a chain that can
// move). No snapshots, bitmaps, extended L2 entries, external data files or
// encryption.
//
// # Memory
//
// The writer holds the L2 tables of the guest areas written so far (one
// cluster per L1 span touched: 64 KiB per 512 MiB of guest space with 64 KiB
// clusters), the L1 table, and a count per host cluster shared by
// compressed clusters. Data is never buffered: each call writes its cluster
// before it returns.
package qcow2write
