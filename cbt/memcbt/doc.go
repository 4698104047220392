// Package memcbt is an in-memory changed-block tracking platform: a model of a
// disk that records writes and discards, takes change points, and resets
// tracking, answering Changes exactly.
//
// It is the reference model the conformance suite (package cbttest) is checked
// against, the engine of the core tests, and a way to try the API without any
// hypervisor:
//
//	v, _ := memcbt.NewVolume(1<<30, nil)
//	v.Write(0, 4096)
//	p1, _ := v.ChangePoint()
//	v.Write(1<<20, 8192)
//	p2, _ := v.ChangePoint()
//	d, _ := v.Open(p2)
//	for e, err := range d.Changes(ctx, p1, nil) { ... } // [1048576, 1056768)
//
// The model: every write or discard marks its range, widened to whole granules,
// as changed in the current epoch; a write also marks it allocated, a discard
// deallocates the granules it covers whole. ChangePoint closes the epoch and
// names it "mem:<volume>.<generation>/<epoch>". The changes between two points
// are the union of the epochs in between; with a zero base, they are what is
// allocated at the point. ResetTracking starts a new generation: every earlier
// change ID then gives cbt.ErrChangeIDInvalid, as a vSphere CBT reset or a lost
// qcow2 bitmap does. Epochs are never reused: a point deleted and taken again
// (RecreatePoint) has a new change ID, and the old one gives
// cbt.ErrChangeIDInvalid. A base later than the disk's point (a listing
// backwards) gives cbt.ErrInvalidArgument. Pages are cut like a real
// platform's (at most PageExtents extents and PageBytes bytes per answer, with
// empty pages on the way) so that cbt's paging loop is exercised.
//
// The model holds data too: a disk opened at a point reads (cbt.Disk.ReadAt)
// what the volume held when the point was taken. Write leaves content
// generated from the write's order, different from every other write's;
// WriteData leaves the bytes given; discarded and never written bytes read
// as zeros. Reads are cut at Options.MaxRead bytes per driver call, so that
// cbt's cutting is exercised too.
package memcbt
