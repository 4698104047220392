#!/usr/bin/env bash
# The pure-Go NBD client (internal/nbd) against nbdinfo, side by side in one
# run (BENCHMARKS.md, section 4): both list the dirty bitmap of the same
# qemu-nbd export, which holds 200,000 dirty 64 KiB ranges with clean ranges
# between them (400,000 extents in all).
#
#   scripts/bench-nbd.sh                 # build the image if needed, then measure
#   ROUNDS=9 scripts/bench-nbd.sh
#
# The image (a 25 GiB qcow2 with bitmap bm1, written with 200,000 zero writes:
# no data clusters, a few MiB on disk) is built once in $CBT_BENCH_DIR (default
# /var/tmp/cbt-bench) in about a minute and reused. Each of ROUNDS rounds runs
# BenchmarkDirtyBitmapVsNbdinfo in a fresh test process: every iteration
# walks the bitmap with internal/nbd, then runs `nbdinfo --map=qemu:dirty-
# bitmap:bm1` on the same export; the round's ratio is ours / nbdinfo. The
# target (issue 5): no slower than nbdinfo, that is a median ratio <= 1.
# Needs qemu-img, qemu-io, qemu-nbd and nbdinfo.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIR=${CBT_BENCH_DIR:-/var/tmp/cbt-bench}
ROUNDS=${ROUNDS:-5}
BENCHTIME=${BENCHTIME:-5x}
IMG="$DIR/nbd-bitmap-200k.qcow2"
mkdir -p "$DIR"

if [ "$(cat "$IMG.ok" 2>/dev/null)" != built-v2 ]; then
	echo "bench-nbd: building $IMG (200,000 zero writes; about a minute)"
	rm -f "$IMG" "$IMG.ok"
	qemu-img create -q -f qcow2 "$IMG" $((200000 * 131072))
	qemu-img bitmap --add --enable "$IMG" bm1
	awk 'BEGIN { for (i = 0; i < 200000; i++) printf "write -z %.0f 65536\n", i * 131072 }' |
		qemu-io "$IMG" >/dev/null
	echo built-v2 >"$IMG.ok"
fi

echo "bench-nbd: $(qemu-nbd --version | head -1); $(nbdinfo --version | head -1); $($GO version)"
ratios=()
for r in $(seq 1 "$ROUNDS"); do
	out=$(NBD_BENCH_IMAGE="$IMG" $GO test -run '^$' -bench '^BenchmarkDirtyBitmapVsNbdinfo$' \
		-benchtime "$BENCHTIME" -count 1 ./internal/nbd)
	line=$(grep '^BenchmarkDirtyBitmapVsNbdinfo' <<<"$out")
	ours=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ms/walk") print $i}' <<<"$line")
	theirs=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ms/nbdinfo") print $i}' <<<"$line")
	ratio=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "ratio") print $i}' <<<"$line")
	printf 'round %d: internal/nbd %6s ms/walk   nbdinfo %6s ms   ratio %s\n' "$r" "$ours" "$theirs" "$ratio"
	ratios+=("$ratio")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
verdict=FAIL
awk -v m="$median" 'BEGIN { exit !(m <= 1) }' && verdict=PASS
printf 'internal/nbd / nbdinfo, dirty bitmap of 400,000 extents: median ratio %s (target <= 1): %s\n' "$median" "$verdict"
[ "$verdict" = PASS ]
