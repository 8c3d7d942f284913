#!/usr/bin/env bash
# The layer checker (mk/check-layers.sh, `make check-layers`): the tree as
# it is passes, and each kind of breach planted in a copy of it fails,
# naming the file and line. The call check runs on the daemon's real
# objects, and on planted objects that call up a layer or round a circle.
. "$(dirname "$0")/../lib/testlib.sh"
CHECK=$ROOT/mk/check-layers.sh
OBJ=${OBJ:-$ROOT/$BUILD/obj}

check_output "the tree passes" '^check-layers: ok$' "$CHECK" "$ROOT"

# A copy of the tracked tree, in a git index of its own, to plant breaches in.
copy=$T/tree
mkdir -p "$copy"
(cd "$ROOT" && git ls-files -z -- '*.c' '*.h' | xargs -0 cp --parents -t "$copy")
git -C "$copy" init -q && git -C "$copy" add -A
check_output "the copy passes" '^check-layers: ok$' "$CHECK" "$copy"

# plant FILE LINE TEXT: insert TEXT after line LINE of FILE in the copy.
plant() {
	cp "$ROOT/$1" "$copy/$1"
	sed -i "$2a $3" "$copy/$1"
}
# said DESC REGEX: the output of the check just run matches REGEX.
said() {
	cp "$T/.out" "$T/last"
	check_output "$1" "$2" cat "$T/last"
}
# restore FILE: back to the tree's version.
restore() { cp "$ROOT/$1" "$copy/$1"; }

plant common/util.c 3 '#include "authd/log.h"'
check_exit "a library including the daemon fails" 1 "$CHECK" "$copy"
said "... naming the file and line" \
	'common/util.c:4: includes "authd/log.h": common/ may use only itself'
restore common/util.c

plant policy/workload.c 3 '#include "wire/connect.h"'
check_exit "policy including wire fails" 1 "$CHECK" "$copy"
said "... naming the file and line" \
	'policy/workload.c:4: includes "wire/connect.h": policy/ may use only common certs'
restore policy/workload.c

plant authctl/ctl_policy.c 3 '#include "authd/config.h"'
check_exit "the CLI including the daemon fails" 1 "$CHECK" "$copy"
restore authctl/ctl_policy.c

plant authctl/ctl_ca.c 3 '#include <uv.h>'
check_exit "the CLI including libuv fails" 1 "$CHECK" "$copy"
said "... naming it" 'authctl/ctl_ca.c:4: includes <uv.h>: only authd/'
restore authctl/ctl_ca.c

plant authd/conn.c 3 '#include "authd/worker.h"'
check_exit "connections including the loops (a layer up) fail" 1 "$CHECK" "$copy"
said "... naming the layers" \
	'authd/conn.c:4: includes "authd/worker.h": connections may not use loops, a layer above'
restore authd/conn.c

plant authd/daemon.c 3 '#include "policy/policy_int.h"'
check_exit "the daemon including a library's private header fails" 1 "$CHECK" "$copy"
restore authd/daemon.c

plant wire/tls.c 3 '#include "tls.h"'
check_exit "an include without its folder fails" 1 "$CHECK" "$copy"
restore wire/tls.c

echo 'int authd_new_file;' >"$copy/authd/newpart.c"
git -C "$copy" add authd/newpart.c
check_exit "a daemon file missing from the layer table fails" 1 "$CHECK" "$copy"
said "... naming it" 'authd/newpart.c: not in the daemon'
git -C "$copy" rm -q --cached authd/newpart.c && rm "$copy/authd/newpart.c"
check_output "the copy passes again" '^check-layers: ok$' "$CHECK" "$copy"

# Calls: the real daemon objects, then planted ones.
objs=()
for f in "$ROOT"/authd/*.c; do objs+=("$OBJ/authd/$(basename "$f" .c).o"); done
check_output "the daemon's objects call only down, with no circle" '^check-layers: ok$' \
	"$CHECK" --calls "${objs[@]}"
mkdir -p "$T/up/authd" "$T/circle/authd"
printf 'void worker_poke(void);\nvoid conn_go(void);\nvoid conn_go(void) { worker_poke(); }\n' >"$T/up/c.c"
printf 'void worker_poke(void);\nvoid worker_poke(void) {}\n' >"$T/up/w.c"
cc -c "$T/up/c.c" -o "$T/up/authd/conn.o" && cc -c "$T/up/w.c" -o "$T/up/authd/worker.o"
check_exit "a call up a layer fails" 1 "$CHECK" --calls "$T/up"
said "... naming the call" 'authd/conn.o calls worker_poke \(authd/worker.c\)'
printf 'void reconcile_b(void);\nvoid daemon_a(void);\nvoid daemon_a(void) { reconcile_b(); }\n' >"$T/circle/d.c"
printf 'void daemon_a(void);\nvoid reconcile_b(void);\nvoid reconcile_b(void) { daemon_a(); }\n' >"$T/circle/r.c"
cc -c "$T/circle/d.c" -o "$T/circle/authd/daemon.o" && cc -c "$T/circle/r.c" -o "$T/circle/authd/reconcile.o"
check_exit "two files of one layer calling each other fail" 1 "$CHECK" --calls "$T/circle"
said "... naming the circle" 'a circle of calls between daemon files: (daemon -> reconcile -> daemon|reconcile -> daemon -> reconcile)'

finish
