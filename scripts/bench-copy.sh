#!/usr/bin/env bash
# The copy engine and the qcow2 backup writer against qemu-img convert, side
# by side in one run (BENCHMARKS.md, section 5).
#
#   scripts/bench-copy.sh                # prepare the images if needed, then measure
#   SIZE_GIB=1 ROUNDS=3 scripts/bench-copy.sh
#
# Sources, built once in $CBT_BENCH_DIR (default /var/tmp/cbt-bench-copy):
# a qcow2 of SIZE_GIB GiB of random data (64 KiB clusters, every cluster
# allocated), and a zstd-compressed qcow2 of SIZE_GIB GiB of data that
# compresses about 2:1 (half of every 4 KiB block random, half zeros).
# Each round copies each source once with the peer,
#   qemu-img convert -O qcow2 -m 16 -W SRC DST
# and once with the SDK (scripts/benchcopy: qemu.OpenActive + backup.Full,
# 4 workers, 1 MiB chunks, no per-chunk checksums), both without a sync
# (qemu-img convert does not sync its output), the page cache warm; then
# the SDK once more with its syncs (the default of backup.Full) next to the
# peer followed by `sync`. Prints the median time of each and the ratio
# peer/SDK (>= 1.0 means the SDK is as fast or faster), and the peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIR=${CBT_BENCH_DIR:-/var/tmp/cbt-bench-copy}
SIZE_GIB=${SIZE_GIB:-4}
ROUNDS=${ROUNDS:-5}
for t in qemu-img /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "bench-copy: $t not found" >&2; exit 1; }
done
mkdir -p "$DIR"
RAND=$DIR/random-$SIZE_GIB.qcow2
ZSTD=$DIR/zstd-$SIZE_GIB.qcow2
if [ ! -f "$RAND" ]; then
	echo "bench-copy: building $RAND" >&2
	head -c "${SIZE_GIB}G" /dev/urandom >"$DIR/r.raw"
	qemu-img convert -O qcow2 "$DIR/r.raw" "$RAND.tmp" && mv "$RAND.tmp" "$RAND"
	rm -f "$DIR/r.raw"
fi
if [ ! -f "$ZSTD" ]; then
	echo "bench-copy: building $ZSTD" >&2
	# half random, half zeros in every 4 KiB block
	python3 - "$DIR/h.raw" "$SIZE_GIB" <<'PY'
import os, sys
path, gib = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    block = bytearray(1 << 20)
    for _ in range(gib * 1024):
        for i in range(0, len(block), 4096):
            block[i:i+2048] = os.urandom(2048)
        f.write(block)
PY
	qemu-img convert -c -O qcow2 -o compression_type=zstd "$DIR/h.raw" "$ZSTD.tmp" && mv "$ZSTD.tmp" "$ZSTD"
	rm -f "$DIR/h.raw"
fi
$GO build -o "$DIR/benchcopy" ./scripts/benchcopy
OUT=$DIR/out
mkdir -p "$OUT"

# run NAME CMD...: time one command (seconds and peak KiB to $DIR/last)
run() {
	rm -f "$OUT"/*
	/usr/bin/time -f "%e %M" -o "$DIR/last" "$@" >/dev/null
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for src in "$RAND" "$ZSTD"; do
	name=$(basename "$src")
	: >"$DIR/peer" ; : >"$DIR/sdk" ; : >"$DIR/peers" ; : >"$DIR/sdks" ; : >"$DIR/rss"
	for r in $(seq "$ROUNDS"); do
		run qemu-img convert -O qcow2 -m 16 -W "$src" "$OUT/p.qcow2"; cut -d' ' -f1 "$DIR/last" >>"$DIR/peer"
		run "$DIR/benchcopy" -nosync "$src" "$OUT/s.qcow2"; read -r t m <"$DIR/last"; echo "$t" >>"$DIR/sdk"; echo "$m" >>"$DIR/rss"
		run bash -c "qemu-img convert -O qcow2 -m 16 -W '$src' '$OUT/p.qcow2' && sync"; cut -d' ' -f1 "$DIR/last" >>"$DIR/peers"
		run "$DIR/benchcopy" "$src" "$OUT/s.qcow2"; cut -d' ' -f1 "$DIR/last" >>"$DIR/sdks"
	done
	p=$(median <"$DIR/peer"); s=$(median <"$DIR/sdk"); ps=$(median <"$DIR/peers"); ss=$(median <"$DIR/sdks")
	rss=$(sort -n "$DIR/rss" | tail -1)
	echo "$name: no sync: qemu-img convert ${p}s, SDK ${s}s, ratio $(awk -v a="$p" -v b="$s" 'BEGIN{printf "%.2f", a/b}'); with sync: ${ps}s vs ${ss}s, ratio $(awk -v a="$ps" -v b="$ss" 'BEGIN{printf "%.2f", a/b}'); SDK peak RSS $((rss / 1024)) MiB"
done
# the last copies, compared
rm -f "$OUT"/*
qemu-img convert -O qcow2 -m 16 -W "$ZSTD" "$OUT/p.qcow2"
"$DIR/benchcopy" -nosync "$ZSTD" "$OUT/s.qcow2" >/dev/null
qemu-img compare -q "$OUT/p.qcow2" "$OUT/s.qcow2" && echo "bench-copy: the SDK's copy of $(basename "$ZSTD") is identical to qemu-img's"
rm -rf "$OUT"

# The incremental on the 2 TiB image of scripts/bench-qemu.sh (when it was
# prepared: scripts/bench-qemu.sh prepare): backup.Incremental of the 10,000
# clusters bitmap b1 recorded into an overlay, against a floor that reads
# exactly those clusters at their host offsets and writes them one after the
# other (listed first, not timed). Target: SDK <= 2x the floor.
BIG=${CBT_QEMU_BENCH_DIR:-/var/tmp/cbt-bench}/bench.qcow2
if [ -f "$BIG" ]; then
	$GO build -o "$DIR/benchinc" ./scripts/benchinc
	mkdir -p "$OUT"
	qemu-img create -q -f qcow2 "$OUT/prev.qcow2" 2T
	: >"$DIR/floor" ; : >"$DIR/inc"
	for r in $(seq "$ROUNDS"); do
		rm -f "$OUT/floor.bin" "$OUT"/inc.qcow2*
		"$DIR/benchinc" floor "$BIG" b1 "$OUT/floor.bin" | cut -d' ' -f1 >>"$DIR/floor"
		"$DIR/benchinc" sdk "$BIG" b1 "$OUT/prev.qcow2" "$OUT/inc.qcow2" | cut -d' ' -f1 >>"$DIR/inc"
	done
	f=$(median <"$DIR/floor"); i=$(median <"$DIR/inc")
	echo "incremental of 10,000 clusters on the 2 TiB image: floor ${f}s, SDK ${i}s, SDK/floor $(awk -v a="$i" -v b="$f" 'BEGIN{printf "%.2f", a/b}') (target <= 2)"
	rm -rf "$OUT"
fi
