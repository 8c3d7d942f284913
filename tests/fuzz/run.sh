#!/bin/bash
# Run every libFuzzer target in BUILD_FUZZ_DIR for FUZZ_SECONDS each (default
# 10) against its seed corpus tests/fuzz/corpus/<target>/. New inputs go to a
# scratch corpus under /tmp, so the seeds in the repository stay as they are;
# crash artifacts go to a temp dir that is kept (and named) when a target
# fails. Prints one ok/FAIL line per target, then "fuzz: N passed, N failed",
# and exits non-zero on any failure.
#
#   tests/fuzz/run.sh build/fuzz
#   FUZZ_SECONDS=300 tests/fuzz/run.sh build/fuzz

set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_FUZZ_DIR" >&2
	exit 2
fi
DIR=$1
SECS=${FUZZ_SECONDS:-10}
CORPORA=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/corpus
WORK=$(mktemp -d /tmp/authd-fuzz.XXXXXX)
passed=0
failed=0

for bin in "$DIR"/*_fuzz; do
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		continue
	fi
	name=$(basename "$bin")
	target=${name%_fuzz}
	scratch=$WORK/$target/corpus
	artifacts=$WORK/$target/artifacts
	log=$WORK/$target/log
	mkdir -p "$scratch" "$artifacts"
	# libFuzzer writes new units to the first corpus dir only.
	dirs=("$scratch")
	[ -d "$CORPORA/$target" ] && dirs+=("$CORPORA/$target")

	rc=0
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 -artifact_prefix="$artifacts/" \
		"${dirs[@]}" >"$log" 2>&1 || rc=$?

	# "Done 123456 runs in 10 second(s)" ends every clean run.
	done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$done_line" ]; then
		runs=$(echo "$done_line" | awk '{ print $2 }')
		secs=$(echo "$done_line" | awk '{ print $5 }')
		echo "ok   fuzz: $name (${secs}s, $runs runs)"
		passed=$((passed + 1))
	else
		{
			echo "FAIL fuzz: $name (exit $rc; log and artifacts in $WORK/$target)"
			tail -n 40 "$log" | sed 's/^/    /'
		} >&2
		failed=$((failed + 1))
	fi
done

echo "fuzz: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
	echo "fuzz: kept $WORK" >&2
	exit 1
fi
rm -rf "$WORK"
exit 0
