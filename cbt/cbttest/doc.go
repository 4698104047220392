// Package cbttest is the conformance suite every changed-block tracking
// platform of the SDK runs, and that vendors can run against their own
// drivers.
//
// A platform supplies a [Harness] that makes fresh disks ([Target]), writes
// given byte ranges to them with the platform's real tools, takes change
// points (snapshots, bitmaps, checkpoints) and, where the platform can, resets
// tracking. [RunConformanceTests] then proves, against the ranges it wrote
// itself (the ground truth):
//
//   - every written byte is inside a reported extent (never under-report);
//   - output is ascending, non-overlapping, non-adjacent, non-empty and inside
//     the capacity;
//   - nothing is reported outside the written ranges widened to the
//     precision the harness declares;
//   - a listing resumed at any offset, or limited to any range, is exactly the
//     matching part of the whole listing, and alignment and coalescing options
//     give exactly the aligned and coalesced listing;
//   - a zero base covers everything written;
//   - a deleted, reset or foreign base gives cbt.ErrChangeIDInvalid, and a
//     change ID of another scheme cbt.ErrInvalidArgument;
//   - a point deleted and made again under the same name ([Recreator]) never
//     stands in for the old one: a listing since the old change ID is refused
//     with cbt.ErrChangeIDInvalid (or, where change IDs name a point of a
//     tracking history, Config.RecreatedBaseStaysValid, covers every write
//     since the old point), and one since the new ID covers what came after;
//   - a listing backwards, since a later point of the same disk than the one
//     it is at, is refused with cbt.ErrInvalidArgument before any extent
//     (every platform must find the order out: there is no opt-out);
//   - a cancelled context ends the listing with the context's error;
//   - all of this over randomized workloads from fixed seeds (at least 200 in
//     -short mode), each failure naming its seed.
package cbttest
