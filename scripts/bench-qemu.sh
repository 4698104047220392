#!/usr/bin/env bash
# Benchmarks of the qemu package offline against its floor and its peer tool,
# measured side by side in one run (see BENCHMARKS.md, section 2).
#
#   scripts/bench-qemu.sh              # prepare the image if needed, then measure
#   scripts/bench-qemu.sh prepare      # only (re)create the image
#   ROUNDS=9 COLD_ROUNDS=0 scripts/bench-qemu.sh   # more rounds, no cold runs
#
# The image: a 2 TiB qcow2 created with preallocation=metadata (4096 L2 tables,
# 256 MiB of them), internal snapshot s1, enabled persistent bitmap b1, then
# 10,000 random 4 KiB writes (seeded; one qemu-io process fed on stdin). It is
# built once in $CBT_BENCH_DIR (default /var/tmp/cbt-bench) and reused while its
# recipe stamp matches. Disk use: about 1.2 GiB allocated (the tables, and the
# 10,000 clusters the writes copied on write); the file is sparse
# with an apparent size of 2.1 TiB, so copy it only with sparse-aware tools.
# Building it takes about a minute (half of it in `qemu-img snapshot -c`).
#
# Each of ROUNDS warm rounds runs one fresh test process with the Go benchmarks
# (floor, decoder and SDK diff, decoder and SDK bitmap listing; BENCHTIME each),
# then the peer `nbdinfo --map=qemu:dirty-bitmap:b1 -- [ qemu-nbd ... ]`
# NBD_REPS times. Each ratio is the median over the rounds of the ratio within
# a round (both sides measured seconds apart), and is checked against:
#   diff (snapshot s1 -> active) <= 2x the floor: reading the image's L1 and L2
#     tables sequentially once, that is every L1 table (the active one and every
#     snapshot's) and then every distinct L2 table any of them points to, once,
#     in ascending file offset order (Qcow2Floor/all). A diff has to read the L2
#     tables of both views wherever their L1 entries differ, so a floor of the
#     active tables alone (Qcow2Floor/active, reported for reference) leaves out
#     half of the reads any correct diff does.
#   peak RSS of the diff <= 64 MiB (a fresh process that runs the diff once)
#   bitmap listing >= 20x faster than nbdinfo
# As root, COLD_ROUNDS rounds also compare the diff and the floor with the page
# cache dropped before each run (sync; echo 3 > /proc/sys/vm/drop_caches).
# Needs qemu-img, qemu-io, qemu-nbd and nbdinfo; /usr/bin/time is optional.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIR=${CBT_BENCH_DIR:-/var/tmp/cbt-bench}
ROUNDS=${ROUNDS:-7}
COLD_ROUNDS=${COLD_ROUNDS:-3}
BENCHTIME=${BENCHTIME:-1s}
NBD_REPS=${NBD_REPS:-3}
IMG=$DIR/bench.qcow2
SEED=42
WRITES=10000
RECIPE="v1 size=2T cluster=64k preallocation=metadata snapshot=s1 bitmap=b1 writes=$WRITES seed=$SEED"

for t in qemu-img qemu-io qemu-nbd nbdinfo; do
	command -v "$t" >/dev/null || { echo "bench-qemu: $t not found" >&2; exit 1; }
done

image_valid() {
	[ -f "$IMG" ] && [ -f "$IMG.stamp" ] && [ "$(cat "$IMG.stamp")" = "$RECIPE" ] || return 1
	local info
	info=$(qemu-img info --output=json "$IMG" 2>/dev/null) || return 1
	grep -q '"name": "s1"' <<<"$info" && grep -q '"name": "b1"' <<<"$info" &&
		! grep -q '"in-use"' <<<"$info" && grep -q '"virtual-size": 2199023255552' <<<"$info"
}

prepare() {
	mkdir -p "$DIR"
	if image_valid; then
		echo "# image: $IMG (reused; recipe: $RECIPE)"
		return
	fi
	echo "# image: creating $IMG ($RECIPE)"
	local tmp=$IMG.tmp
	rm -f "$tmp" "$IMG" "$IMG.stamp"
	qemu-img create -q -f qcow2 -o cluster_size=65536,preallocation=metadata "$tmp" 2T
	qemu-img snapshot -c s1 "$tmp"
	qemu-img bitmap --add --enable "$tmp" b1
	# 10,000 random 4 KiB-aligned writes, Park-Miller generator (exact in awk's
	# doubles, the same sequence with mawk and gawk).
	awk -v seed=$SEED -v n=$WRITES 'BEGIN {
		x = seed
		for (i = 0; i < n; i++) {
			x = (x * 48271) % 2147483647
			printf "write -q %.0f 4096\n", (x % 536870912) * 4096
		}
	}' >"$DIR/writes.txt"
	qemu-io -f qcow2 "$tmp" <"$DIR/writes.txt" >/dev/null
	mv "$tmp" "$IMG"
	echo "$RECIPE" >"$IMG.stamp"
	image_valid || { echo "bench-qemu: the new image does not check out" >&2; exit 1; }
	echo "# image: done, $(du -h "$IMG" | cut -f1) allocated"
}

prepare
[ "${1:-}" = prepare ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$GO test -c -o "$work/qemu.test" ./qemu
export CBT_BENCH_QCOW2=$IMG
bin=$work/qemu.test
res=$work/results # lines: name unit value round

# bench NAME-PREFIX BENCH-REGEX BENCHTIME: runs the test binary once, appends
# each metric of each benchmark to $res and echoes the raw lines.
bench() {
	local prefix=$1 re=$2 bt=$3
	"$bin" -test.run='^$' -test.bench="$re" -test.benchtime="$bt" -test.count=1 -test.benchmem 2>&1 |
		tee "$work/last" | grep -E '^(Benchmark|--- SKIP|--- FAIL|FAIL|panic)' | sed 's/^/  /' || true
	awk -v p="$prefix" -v r="$round" '/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		for (i = 3; i < NF; i += 2) print p name, $(i + 1), $i, r
	}' "$work/last" >>"$res"
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

nbd_once() {
	local t0 t1
	t0=$(date +%s%N)
	nbdinfo --map=qemu:dirty-bitmap:b1 -- [ qemu-nbd -r -f qcow2 -B b1 "$IMG" ] >"$work/nbd.map"
	t1=$(date +%s%N)
	echo "nbdinfo ns/op $((t1 - t0)) $round" >>"$res"
	echo "  nbdinfo --map=qemu:dirty-bitmap:b1: $(((t1 - t0) / 1000)) us"
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $($GO version) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem/ {print $2}') GiB RAM"
echo "# $(qemu-img --version | head -1); nbdinfo $(nbdinfo --version | head -1 | awk '{print $2}')"
echo "# image: $(qemu-img info "$IMG" | grep -E 'virtual size|disk size' | tr '\n' ' ')"
echo "# rounds=$ROUNDS benchtime=$BENCHTIME nbd_reps=$NBD_REPS cold_rounds=$COLD_ROUNDS; load: $(cut -d' ' -f1-3 /proc/loadavg)"

for round in $(seq 1 "$ROUNDS"); do
	echo "## warm round $round"
	bench "" 'Qcow2(Floor|Diff|Bitmap)' "$BENCHTIME"
	for _ in $(seq 1 "$NBD_REPS"); do nbd_once; done
done
nbd_dirty=$(awk '$4 == "dirty"' "$work/nbd.map" | wc -l)

round=rss
echo "## peak RSS: each diff run once in a fresh process"
rss_time=
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%M' -o "$work/time.rss" "$bin" -test.run='^$' -test.bench='Qcow2Diff/sdk$' -test.benchtime=1x >"$work/last" 2>&1 || true
	if grep -q '^Benchmark' "$work/last"; then
		rss_time=$(tail -1 "$work/time.rss")
		echo "  /usr/bin/time, SDK diff: max resident $((rss_time / 1024)) MiB"
	fi
fi
bench "rss:" 'Qcow2Diff/sdk$' 1x
bench "rss:" 'Qcow2Diff/decoder$' 1x
bench "rss:" 'Qcow2Floor/all$' 1x

cold=0
if [ "$COLD_ROUNDS" -gt 0 ] && [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	cold=1
	for round in $(seq 1 "$COLD_ROUNDS"); do
		echo "## cold round $round (page cache dropped before each run)"
		drop_caches
		bench "cold:" 'Qcow2Floor/all$' 1x
		drop_caches
		bench "cold:" 'Qcow2Floor/active$' 1x
		drop_caches
		bench "cold:" 'Qcow2Diff/sdk$' 1x
		drop_caches
		bench "cold:" 'Qcow2Diff/decoder$' 1x
	done
else
	echo "## cold rounds skipped (need root and COLD_ROUNDS > 0)"
fi

# Summary. Each ratio is the median over the rounds of the ratio within one
# round (the two sides measured a few seconds apart, so a burst of load from
# elsewhere hits both); in parentheses, the ratio of the overall medians.
echo
awk -v cold=$cold -v nbd_dirty="$nbd_dirty" -v rss_time="$rss_time" '
	function sort(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } }
	function med(a, n) { sort(a, n); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	# median of every sample of a key, or of the samples of one round
	function median(key, r,   n, i, a) {
		n = 0
		for (i = 1; i <= cnt[key]; i++) if (r == "" || rnd[key, i] == r) a[++n] = val[key, i]
		return n ? med(a, n) : -1
	}
	function ms(key) { return median(key " ns/op", "") / 1e6 }
	# median over rounds of (num/den within the round)
	function ratio(num, den,   r, n, a, x, y) {
		n = 0
		for (r in rounds) { x = median(num " ns/op", r); y = median(den " ns/op", r); if (x > 0 && y > 0) a[++n] = x / y }
		return n ? med(a, n) : -1
	}
	function verdict(ok) { return ok ? "PASS" : "FAIL" }
	{ k = $1 " " $2; cnt[k]++; val[k, cnt[k]] = $3; rnd[k, cnt[k]] = $4; if ($1 !~ /:/) rounds[$4] = 1 }
	END {
		F = "BenchmarkQcow2Floor/all"; FA = "BenchmarkQcow2Floor/active"
		D = "BenchmarkQcow2Diff/decoder"; S = "BenchmarkQcow2Diff/sdk"
		BD = "BenchmarkQcow2Bitmap/decoder"; BS = "BenchmarkQcow2Bitmap/sdk"; N = "nbdinfo"
		sdk = ms(S) > 0; bsdk = ms(BS) > 0
		printf "%-46s %10s  %s\n", "warm page cache", "median ms", "(min-max over all samples)"
		line("floor: every L1 + every distinct L2 table", F, sprintf("%d L1 + %d L2 tables, %.0f MiB", median(F " L1-tables/op", ""), median(F " L2-tables/op", ""), median(F " MiB/op", "")))
		line("floor, active only: its L1 + its L2 tables", FA, sprintf("%d L2 tables, %.0f MiB", median(FA " L2-tables/op", ""), median(FA " MiB/op", "")))
		line("diff s1 -> active, internal/qcow2 decoder", D, sprintf("%d extents", median(D " extents/op", "")))
		if (sdk) line("diff s1 -> active, qemu public API", S, sprintf("%d extents", median(S " extents/op", "")))
		line("bitmap b1, internal/qcow2 decoder", BD, sprintf("%d extents", median(BD " extents/op", "")))
		if (bsdk) line("bitmap b1, qemu public API", BS, sprintf("%d extents", median(BS " extents/op", "")))
		line("nbdinfo --map=qemu:dirty-bitmap:b1", N, sprintf("%d dirty extents", nbd_dirty))
		print ""
		printf "%-60s %7s %7s  %s\n", "target", "ratio", "limit", "result"
		d = sdk ? S : D; which = sdk ? "SDK" : "decoder, provisional"
		x = ratio(d, F); printf "%-60s %7.2f %7s  %s   (ratio of medians %.2f)\n", "diff / floor (all tables), warm (" which ")", x, "<= 2", verdict(x <= 2), ms(d) / ms(F)
		if (sdk) { x = ratio(D, F); printf "%-60s %7.2f %7s  %s\n", "diff / floor (all tables), warm (decoder, for reference)", x, "-", "-" }
		x = ratio(d, FA); printf "%-60s %7.2f %7s  %s   (ratio of medians %.2f)\n", "diff / active-only floor, warm (" which ", for reference)", x, "-", "-", ms(d) / ms(FA)
		if (cold) {
			cd = sdk ? "cold:" S : "cold:" D
			x = ratio(cd, "cold:" F)
			printf "%-60s %7.2f %7s  %s   (medians: floor %.0f ms, diff %.0f ms, decoder %.0f ms)\n", "diff / floor (all tables), cold (" which ")", x, "<= 2", verdict(x <= 2), ms("cold:" F), ms(cd), ms("cold:" D)
			x = ratio(cd, "cold:" FA)
			printf "%-60s %7.2f %7s  %s   (active-only floor %.0f ms)\n", "diff / active-only floor, cold (" which ", for reference)", x, "-", "-", ms("cold:" FA)
		}
		printf "%-60s %7.1f %7s  %s\n", "peak RSS of the floor alone, MiB (for reference)", median("rss:" F " peak-RSS-MiB", ""), "-", "-"
		rdec = median("rss:" D " peak-RSS-MiB", ""); rsdk = median("rss:" S " peak-RSS-MiB", "")
		printf "%-60s %7.1f %7s  %s\n", "peak RSS of the decoder diff, MiB (getrusage)", rdec, "<= 64", sdk ? "-" : verdict(rdec <= 64) " (provisional)"
		if (sdk) printf "%-60s %7.1f %7s  %s\n", "peak RSS of the SDK diff, MiB (getrusage)", rsdk, "<= 64", verdict(rsdk <= 64)
		if (sdk && rss_time != "") printf "%-60s %7.1f %7s  %s\n", "peak RSS of the SDK diff, MiB (/usr/bin/time)", rss_time / 1024, "<= 64", verdict(rss_time / 1024 <= 64)
		b = bsdk ? BS : BD; which = bsdk ? "SDK" : "decoder, provisional"
		x = ratio(N, b); printf "%-60s %7.1f %7s  %s   (ratio of medians %.1f)\n", "nbdinfo / bitmap listing (" which ")", x, ">= 20", verdict(x >= 20), ms(N) / ms(b)
		if (bsdk) { x = ratio(N, BD); printf "%-60s %7.1f %7s  %s\n", "nbdinfo / bitmap listing (decoder, for reference)", x, "-", "-" }
	}
	function line(label, key, note,   n, i, lo, hi, v) {
		n = cnt[key " ns/op"]; lo = hi = val[key " ns/op", 1]
		for (i = 2; i <= n; i++) { v = val[key " ns/op", i]; if (v < lo) lo = v; if (v > hi) hi = v }
		printf "%-46s %10.2f  (%.2f-%.2f, %d samples)  %s\n", label, ms(key), lo / 1e6, hi / 1e6, n, note
	}' "$res"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
