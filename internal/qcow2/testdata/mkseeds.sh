#!/usr/bin/env bash
# Regenerates the fuzz seed images in testdata/seeds/ (gzipped qcow2 images of
# a few KB) with qemu-img and qemu-io. The fuzz targets (fuzz_test.go) read
# them and derive their seeds: whole images, snapshot tables, bitmap
# directories and L2 tables. Run from anywhere: testdata/mkseeds.sh
set -euo pipefail
cd "$(dirname "$0")"
out=seeds
rm -rf "$out"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

io() { # io IMAGE CMD... : run qemu-io commands on a qcow2 image
	local img=$1
	shift
	local args=()
	for c in "$@"; do args+=(-c "$c"); done
	qemu-io -f qcow2 "${args[@]}" "$img" >/dev/null
}
img() { qemu-img "$@" >/dev/null; }

# v3, 512-byte clusters: data, zero, discard, compressed writes; three
# snapshots (one deleted) with a resize between; two bitmaps.
i=$tmp/v3-512.qcow2
img create -f qcow2 -o cluster_size=512 "$i" 48k
io "$i" "write -P 0xab 0 1k" "write -z 4k 512" "write -c -P 0x11 8k 512"
img snapshot -c s1 "$i"
img bitmap --add -g 512 "$i" bm1
io "$i" "write -P 0xcd 1k 1k" "write -zu 0 512"
img snapshot -c s2 "$i"
img resize -f qcow2 "$i" 64k
img bitmap --add --disable -g 4096 "$i" bm2
io "$i" "write -P 0xef 40k 9k"
img snapshot -c s3 "$i"
img snapshot -d s2 "$i"
io "$i" "write -P 0x01 2k 512"

# v2 (compat=0.10), 512-byte clusters, raw backing file, snapshots.
qemu-img create -q -f raw "$tmp/base.raw" 32k
i=$tmp/v2-512-backing.qcow2
(cd "$tmp" && img create -f qcow2 -o compat=0.10,cluster_size=512 -b base.raw -F raw v2-512-backing.qcow2 32k)
io "$i" "write -P 0x22 0 1k" "write -z 2k 1k"
img snapshot -c a "$i"
io "$i" "write -P 0x33 512 512"
img snapshot -c b "$i"

# Extended L2 entries (16 KiB clusters, 512-byte subclusters), snapshot, bitmap.
i=$tmp/extl2-16k.qcow2
img create -f qcow2 -o extended_l2=on,cluster_size=16k "$i" 64k
io "$i" "write -P 0x44 512 1k" "write -z 16k 2k" "write -P 0x45 32k 16k"
img snapshot -c s1 "$i"
img bitmap --add "$i" dirty
io "$i" "write -P 0x46 1k 512" "write -zu 32k 512" "write -c -P 0x47 48k 16k"

# zstd compression type, lazy refcounts, crashed writer: dirty bit set and the
# bitmap left in_use.
i=$tmp/zstd-lazy-dirty.qcow2
img create -f qcow2 -o cluster_size=512,compression_type=zstd,lazy_refcounts=on "$i" 16k
img bitmap --add "$i" crash
sh -c 'qemu-io -f qcow2 -c "write -c -P 0x55 0 512" -c "write -P 0x56 4k 1k" -c abort "$1"' _ "$i" >/dev/null 2>&1 || true

# External data file (raw), whose name is a header extension.
(cd "$tmp" && img create -f qcow2 -o cluster_size=512,data_file=data.raw,data_file_raw=on datafile.qcow2 8k)
(cd "$tmp" && io datafile.qcow2 "write -P 0x66 0 1k")

for f in "$tmp"/*.qcow2; do
	gzip -9n <"$f" >"$out/$(basename "$f").gz"
done
ls -l "$out"
