# Shell test helpers for tests/integration/*.sh. Source it, call check/…,
# end with `finish`. Each check prints "ok"/"FAIL" with a description; finish
# prints "NAME: N passed, N failed" and exits non-zero on any failure.
# Every script gets a private temp dir $T, removed on exit (kept with KEEP=1).

set -u
# A suite that binds fixed loopback ports (the dev node's among them) sets
# T_PRIVATE_NETNS=1 before sourcing this file: it then runs in a network
# namespace of its own with only loopback, so it collides neither with a
# `make dev` on the host nor with another suite. Needs root, as CI has.
if [ "${T_PRIVATE_NETNS:-0}" = 1 ] && [ "${T_IN_PRIVATE_NETNS:-0}" != 1 ]; then
	export T_IN_PRIVATE_NETNS=1
	exec unshare --net -- bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
T_NAME=$(basename "$0" .sh)
T_PASS=0
T_FAIL=0
T=$(mktemp -d "/tmp/authd-${T_NAME}.XXXXXX")
t_cleanup_hooks=()
t_on_exit() {
	local h
	for h in "${t_cleanup_hooks[@]}"; do eval "$h" || true; done
	[ "${KEEP:-0}" = 1 ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap t_on_exit EXIT
# at_exit CMD: run CMD when the script ends, even when it fails.
at_exit() { t_cleanup_hooks+=("$1"); }

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-build}
AUTHCTL=${AUTHCTL:-$ROOT/$BUILD/authctl}
PY=/usr/bin/python3

pass() { T_PASS=$((T_PASS + 1)); echo "ok   $T_NAME: $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $T_NAME: $*" >&2; }

# check DESC CMD...: passes when CMD exits 0.
check() {
	local desc=$1; shift
	if "$@" >"$T/.out" 2>&1; then pass "$desc"; else fail "$desc (exit $?): $(tail -c 600 "$T/.out")"; fi
}
# check_fails DESC CMD...: passes when CMD exits non-zero.
check_fails() {
	local desc=$1; shift
	if "$@" >"$T/.out" 2>&1; then fail "$desc: succeeded, expected failure: $(tail -c 300 "$T/.out")"; else pass "$desc"; fi
}
# check_exit DESC CODE CMD...: passes when CMD exits with CODE; output in $T/.out.
check_exit() {
	local desc=$1 want=$2 rc=0; shift 2
	"$@" >"$T/.out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ]; then pass "$desc"; else fail "$desc: exit $rc, expected $want: $(tail -c 600 "$T/.out")"; fi
}
# check_output DESC REGEX CMD...: passes when CMD's output (stdout+stderr) matches REGEX (grep -E).
check_output() {
	local desc=$1 re=$2; shift 2
	"$@" >"$T/.out" 2>&1 || true
	if grep -Eq -- "$re" "$T/.out"; then pass "$desc"; else fail "$desc: no match for /$re/ in: $(tail -c 600 "$T/.out")"; fi
}
# check_eq DESC GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# wait_for DESC CMD...: poll CMD for up to 10 s until it succeeds (readiness
# of a daemon, a log line): a bound on waiting, not a timed assertion.
wait_for() {
	local desc=$1 i; shift
	for i in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "timed out waiting for $desc" >&2
	return 1
}

finish() {
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}
