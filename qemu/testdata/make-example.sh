#!/bin/sh
# Makes example.qcow2, the image qemu's examples read (example_test.go), with
# qemu-img and qemu-io: 4 MiB of virtual size in 512-byte clusters, so that
# the file stays a few KiB.
#
#   4 KiB written at 0, then snapshot "monday";
#   bitmap "since-monday" added (enabled), then 4 KiB written at 1 MiB;
#   snapshot "tuesday", then 512 bytes written at 3 MiB (active only).
#
# Run it from this directory to make the image again; the examples' outputs
# do not depend on the snapshots' dates.
set -eu
img=example.qcow2
rm -f "$img"
qemu-img create -q -f qcow2 -o cluster_size=512 "$img" 4M
qemu-io -f qcow2 -c 'write -P 0x11 0 4k' "$img" >/dev/null
qemu-img snapshot -c monday "$img"
qemu-img bitmap --add --enable "$img" since-monday
qemu-io -f qcow2 -c 'write -P 0x22 1M 4k' "$img" >/dev/null
qemu-img snapshot -c tuesday "$img"
qemu-io -f qcow2 -c 'write -P 0x33 3M 512' "$img" >/dev/null
qemu-img check -q "$img"
