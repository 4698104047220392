// Vsphere-incremental walks through what a backup application does on
// VMware vSphere with the SDK's vsphere package: a backup since the change
// ID stored by the last one (a full backup the first time), guest writes,
// and an incremental backup since the change ID just stored.
//
// Usage:
//
//	go run ./examples/vsphere-incremental [flags]
//
// Without -url it runs on an in-process vCenter simulator (govmomi's vcsim,
// served on loopback with its own certificate, which the client checks) to
// which package vsphere/vcsimcbt adds change tracking. With -url it runs
// against a real vCenter or ESXi host: certificate checks stay on unless
// -insecure is given; the user name and password come from the URL
// (https://user:password@host/sdk) or from GOVC_USERNAME and GOVC_PASSWORD,
// and are never printed.
//
// For each run it
//
//  1. picks the VM (-vm NAME or managed object ID such as vm-42; default:
//     the first by name) and its disks, and enables change tracking,
//     saying when tracking waits for a stun/unstun cycle (a powered-on VM:
//     the backup's own snapshot is such a cycle; -stun makes one at once
//     with a temporary snapshot);
//  2. takes a snapshot and lists, per disk, what changed since the change ID
//     the state file holds for it, or everything allocated when it holds
//     none (a full backup); a stored change ID that is no longer valid
//     (tracking was reset, or the state comes from another simulator)
//     falls back to a full backup, as a backup application must;
//  3. stores each disk's change ID at that snapshot in the state file and
//     removes the snapshot;
//  4. on the simulator only, records guest writes (random, -seed);
//  5. takes a second snapshot and lists what changed since the stored change
//     IDs (the incremental), stores the new change IDs and removes it.
//
// On the simulator every listing is checked against the writes vcsimcbt
// recorded (every written byte must lie in a listed extent), and the
// verdict printed; a miss is an error. A real vCenter gives no ground truth,
// and its guest writes are the guest's own.
//
// The snapshots the program takes are removed on every path: after each
// listing, on errors and on Ctrl-C (with a fresh context, so the removal is
// not cancelled with the run).
//
// The state file (-state; default on the simulator: a file in the
// temporary directory, so that a second run finds it; with -url:
// vsphere-incremental-state.json in the current directory) is JSON holding,
// per VM name and disk device key, the last change ID stored. Run the
// program twice on the simulator and the second run's first backup tries
// the stored change ID: each run starts a new simulator, whose tracking
// generations differ, so it is refused (full backup required) and the run
// takes a full backup, as after a tracking reset.
//
// Exit status: 0 success, 1 an error (or, on the simulator, a written byte
// not listed), 2 a usage error.
package main
