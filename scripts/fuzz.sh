#!/usr/bin/env bash
# Runs every native fuzz target in the module for $FUZZTIME each (default 10s).
# Go runs one fuzz target per invocation, so the targets are listed first.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
count=0
for pkg in $(go list ./...); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for t in $targets; do
		echo "fuzz: $pkg $t ($FUZZTIME)"
		go test -run='^$' -fuzz="^${t}\$" -fuzztime="$FUZZTIME" "$pkg"
		count=$((count + 1))
	done
done
echo "fuzz: ran $count targets"
[ "$count" -gt 0 ] || { echo "fuzz: no targets found" >&2; exit 1; }
