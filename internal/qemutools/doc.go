// Package qemutools drives the real qemu tools (qemu-img, qemu-io, qemu-nbd,
// nbdinfo) from tests: it builds and changes images, and reads back the ground
// truth that decoders and changed-block listings are compared with (raw
// exports, allocation maps, dirty bitmaps as NBD serves them, qemu-img info).
//
// It is for tests only (every helper takes a testing.TB and fails the test on
// error) and holds no platform policy: it knows what the tools print, not what
// the SDK makes of it.
//
// Under CI=true a missing tool fails the test (Need, Have); elsewhere it skips
// the test or the comparison.
//
// Observed with qemu 7.2 (Debian 12): qemu-io reports a failed command on
// stdout and still exits 0, so QemuIO scans its output; `qemu-img convert -l`
// exports an internal snapshot at the image's current size, the bytes past the
// snapshot's own size reading as zeros; `qemu-img map` has no snapshot option.
package qemutools
