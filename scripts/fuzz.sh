#!/usr/bin/env bash
# Runs every fuzz target of the module for $FUZZTIME (default 10s) each.
# Each fuzz target runs alone (go test -fuzz takes one target at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
n=0
for pkg in $($GO list ./...); do
	for target in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($FUZZTIME)"
		$GO test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >/tmp/fuzz.$$.log 2>&1 || {
			cat /tmp/fuzz.$$.log
			rm -f /tmp/fuzz.$$.log
			echo "fuzz: $pkg $target FAILED (the failing input is under testdata/fuzz/$target)"
			exit 1
		}
		tail -n 1 /tmp/fuzz.$$.log
		n=$((n + 1))
	done
done
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n targets ran for $FUZZTIME each"
