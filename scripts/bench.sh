#!/usr/bin/env bash
# Runs the benchmarks on one core and prints each against its target.
#   scripts/bench.sh            # all benchmarks
#   BENCHTIME=2s COUNT=5 scripts/bench.sh
# The raw `go test -bench` output is kept in bench-extent.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $($GO version) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cmd="$GO test -run=^\$ -bench=. -benchmem -cpu=1 -benchtime=$BENCHTIME -count=$COUNT ./extent"
echo "# $cmd"
$cmd | tee bench-extent.txt

# Targets of the foundation issue, in millions of input extents per second on
# one core, and 0 allocations per extent for the streaming operators.
echo
echo "benchmark                          median Mext/s   target   ratio   allocs/op"
awk '
	function median(arr, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
		return (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
	}
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		for (i = 2; i <= NF; i++) {
			if ($i == "Mext/s") { n[name]++; v[name, n[name]] = $(i - 1) }
			if ($i == "allocs/op") allocs[name] = $(i - 1)
		}
	}
	END {
		target["BenchmarkCoalesce"] = 100; target["BenchmarkAlign"] = 100; target["BenchmarkUnion4"] = 30
		for (name in n) {
			delete a; for (k = 1; k <= n[name]; k++) a[k] = v[name, k]
			m = median(a, n[name])
			t = (name in target) ? target[name] : 0
			printf "%-34s %14.1f %8s %7s %11s\n", name, m, t ? t : "-", t ? sprintf("%.2f", m / t) : "-", allocs[name]
		}
	}' bench-extent.txt | sort
