#!/usr/bin/env bash
# The whole test run behind `make test`: unit tests (ASan+UBSan build),
# integration tests against the real binaries, short fuzz runs. Each suite
# prints its own "NAME: N passed, N failed" line; this script adds them up
# and ends with the total, exiting non-zero if anything failed.
#
#   BUILD=build tests/run.sh            everything
#   tests/run.sh unit|integration|fuzz  one kind
#   FUZZ_SECONDS=15                     per fuzz target (make fuzz runs longer)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
export ROOT BUILD
# Integration tests drive the sanitizer build so memory errors in real
# command-line flows fail the run too.
export AUTHCTL=${AUTHCTL:-$ROOT/build/asan/authctl}
# The daemon too runs with ASan+UBSan in the tests: a leak or an overflow
# fails its exit status, which the tests check.
export AUTHD=${AUTHD:-$ROOT/build/asan/authd}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
kinds=${1:-unit integration fuzz}

pass=0
fail=0
broken=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_suite NAME CMD...: run one suite, stream its output, add up its counts.
run_suite() {
	local name=$1 rc=0 line p f
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
	else
		p=0
		f=0
	fi
	# A suite that crashed or exited non-zero without counting a failure is one.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1 && echo "FAIL $name: ran no test"
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -ne 0 ] && broken+=("$name")
}

for kind in $kinds; do
	case $kind in
	unit)
		for t in build/asan/tests/*_test; do
			[ -x "$t" ] && run_suite "unit/$(basename "$t")" "$t"
		done
		;;
	integration)
		for t in tests/integration/*.sh; do
			[ -f "$t" ] && run_suite "integration/$(basename "$t" .sh)" bash "$t"
		done
		;;
	fuzz)
		run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-15}" tests/fuzz/run.sh "$BUILD/fuzz"
		;;
	*)
		echo "unknown kind '$kind' (unit, integration, fuzz)" >&2
		exit 2
		;;
	esac
done

echo
[ ${#broken[@]} -gt 0 ] && echo "failing suites: ${broken[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
